// A test server that listens on 127.0.0.1 only (never every interface), and requests to it that carry a Host
// header of the test's choosing: what a browser sends when a name it resolved is rebound to 127.0.0.1.
import { HttpServer } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as Http from "node:http"

/** `NodeHttpServer.layerTest`, bound to 127.0.0.1's loopback. */
export const loopbackServerTest = HttpServer.layerTestClient.pipe(
  Layer.provide(NodeHttpClient.layerWithoutAgent),
  Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: false })),
  Layer.provideMerge(NodeHttpServer.layer(Http.createServer, { port: 0, host: "127.0.0.1" }))
)

/** The port the test server listens on. */
export const serverPort = Effect.flatMap(
  HttpServer.HttpServer,
  (server) =>
    server.address._tag === "TcpAddress"
      ? Effect.succeed(server.address.port)
      : Effect.dieMessage("the test server listens on a Unix socket")
)

export interface HostResponse {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly text: string
}

/** GET `path` from 127.0.0.1:`port` with the Host header `host`, whatever name that is. */
export const getWithHost = (port: number, path: string, host: string) => requestWithHost(port, "GET", path, host)

/** `method` `path` on 127.0.0.1:`port` with the Host header `host`, and a JSON body when one is given. */
export const requestWithHost = (port: number, method: string, path: string, host: string, json?: unknown) =>
  json === undefined
    ? rawRequest(port, method, path, { host })
    : rawRequest(port, method, path, { host, "content-type": "application/json" }, JSON.stringify(json))

/** `method` `path` on 127.0.0.1:`port` exactly as written (no client normalises `..` away), with `headers`. */
export const rawRequest = (
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string
) =>
  Effect.async<HostResponse, Error>((resume) => {
    const request = Http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () =>
        resume(Effect.succeed({
          status: response.statusCode ?? 0,
          headers: response.headers,
          text: Buffer.concat(chunks).toString("utf8")
        })))
      response.on("error", (error) => resume(Effect.fail(error)))
    })
    request.on("error", (error) => resume(Effect.fail(error)))
    request.end(body)
    return Effect.sync(() => request.destroy())
  })

/** The API's error shape, parsed from a response's text. */
export const errorBodyOf = (response: HostResponse) =>
  JSON.parse(response.text) as { error: { code: string; message: string }; requestId: string }

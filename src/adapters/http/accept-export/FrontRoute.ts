// The seam that lets one hot route be served by a plain node:http handler in front of the HttpApi app (ADR 0013).
// `NodeHttpServer.make` takes the `http.Server` to listen with and attaches the platform's handler to its
// "request" event; node:http dispatches every request through `server.emit("request", req, res)`. The server
// below offers each request to the front route first and emits it to the platform's handler only when the route
// passes it on. Everything else (listening, closing, upgrades, the HttpServer service) is the platform's own.
import { HttpServer } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as Http from "node:http"
import type { ListenOptions } from "node:net"

/** Answers a request and returns true, or returns false without touching it to pass it on. */
export type FrontRoute = (request: Http.IncomingMessage, response: Http.ServerResponse) => boolean

class ServerWithFrontRoute extends Http.Server {
  constructor(private readonly front: FrontRoute) {
    super()
  }

  override emit(event: string, ...args: Array<unknown>): boolean {
    if (event === "request" && this.front(args[0] as Http.IncomingMessage, args[1] as Http.ServerResponse)) {
      return true
    }
    return super.emit(event, ...args)
  }
}

/** `NodeHttpServer.layer` with `front` ahead of the platform's handler. */
export const layer = <E, R>(front: Effect.Effect<FrontRoute, E, R>, options: ListenOptions) =>
  Layer.mergeAll(
    Layer.scoped(
      HttpServer.HttpServer,
      Effect.flatMap(front, (route) => NodeHttpServer.make(() => new ServerWithFrontRoute(route), options))
    ),
    NodeHttpServer.layerContext
  )

/** `NodeHttpServer.layerTest` with `front` ahead of the platform's handler: a free port of 127.0.0.1 and a client for it. */
export const layerTest = <E, R>(front: Effect.Effect<FrontRoute, E, R>) =>
  HttpServer.layerTestClient.pipe(
    Layer.provide(NodeHttpClient.layerWithoutAgent),
    Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: false })),
    Layer.provideMerge(layer(front, { port: 0, host: "127.0.0.1" }))
  )

// The seam that lets one hot route be served by a plain node:http handler in front of the HttpApi app (ADR 0013).
// `NodeHttpServer.make` takes the `http.Server` to listen with and attaches the platform's handler to its
// "request" event; node:http dispatches every request through `server.emit("request", req, res)`. The server
// below offers each request to the front route first and emits it to the platform's handler only when the route
// passes it on. Everything else (listening, upgrades, the HttpServer service) is the platform's own, and so is closing,
// except that open event streams are cut rather than waited for.
import { HttpServer } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Layer } from "effect"
import * as Http from "node:http"
import type { ListenOptions } from "node:net"

/** Answers a request and returns true, or returns false without touching it to pass it on. */
export type FrontRoute = (request: Http.IncomingMessage, response: Http.ServerResponse) => boolean

/** Whether a request opens a stream with no end of its own (server-sent events), which closing cuts. */
export type IsEndlessStream = (request: Http.IncomingMessage) => boolean

class ServerWithFrontRoute extends Http.Server {
  /** The endless streams open now, for `close` to cut. */
  private readonly endless = new Set<Http.ServerResponse>()

  constructor(private readonly front: FrontRoute, private readonly isEndless: IsEndlessStream) {
    super()
  }

  override emit(event: string, ...args: Array<unknown>): boolean {
    if (event === "request") {
      const request = args[0] as Http.IncomingMessage
      const response = args[1] as Http.ServerResponse
      if (this.isEndless(request)) {
        this.endless.add(response)
        response.once("close", () => this.endless.delete(response))
      }
      if (this.front(request, response)) return true
    }
    return super.emit(event, ...args)
  }

  /**
   * Stops listening and waits for the requests in flight, as node:http does, but cuts the event streams: their
   * clients never leave by themselves, and an EventSource reconnects (with its Last-Event-ID) to a server still up.
   */
  override close(callback?: (error?: Error) => void): this {
    super.close(callback)
    for (const response of this.endless) response.destroy()
    return this
  }
}

/** `NodeHttpServer.layer` with `front` ahead of the platform's handler. */
export const layer = <E, R>(
  front: Effect.Effect<FrontRoute, E, R>,
  options: ListenOptions,
  isEndless: IsEndlessStream = () => false
) =>
  Layer.mergeAll(
    Layer.scoped(
      HttpServer.HttpServer,
      Effect.flatMap(front, (route) => NodeHttpServer.make(() => new ServerWithFrontRoute(route, isEndless), options))
    ),
    NodeHttpServer.layerContext
  )

/** `NodeHttpServer.layerTest` with `front` ahead of the platform's handler: a free port of 127.0.0.1 and a client for it. */
export const layerTest = <E, R>(front: Effect.Effect<FrontRoute, E, R>, isEndless?: IsEndlessStream) =>
  HttpServer.layerTestClient.pipe(
    Layer.provide(NodeHttpClient.layerWithoutAgent),
    Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: false })),
    Layer.provideMerge(layer(front, { port: 0, host: "127.0.0.1" }, isEndless))
  )

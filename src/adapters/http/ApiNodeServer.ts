// The API on a Node server, as every runtime and the HTTP tests serve it: node:http with the accept route in
// front of the HttpApi app (ADR 0013). Needs an Authentication implementation and the application's ports.
import { Layer } from "effect"
import type { IncomingMessage } from "node:http"
import type { ListenOptions } from "node:net"
import * as FrontRoute from "./accept-export/FrontRoute.js"
import { NodeAcceptRoute } from "./accept-export/NodeAcceptRoute.js"
import * as ApiServer from "./ApiServer.js"
import { EVENTS_PATH } from "./EventsApi.js"

/** The event stream: the one response a stopping server cuts rather than waits for. */
const isEventStream = (request: IncomingMessage) =>
  request.method === "GET" && new URL(request.url ?? "/", "http://host").pathname === EVENTS_PATH

/** The Node server the API listens on: the accept route first, everything else to the HttpApi app. */
export const layerServer = (listen: ListenOptions) => FrontRoute.layer(NodeAcceptRoute, listen, isEventStream)

/** `layerServer` on a free port of 127.0.0.1's loopback, with an HttpClient for it: for tests. */
export const layerServerTest = FrontRoute.layerTest(NodeAcceptRoute, isEventStream)

/** The API, its documents and the accept route, listening as told. */
export const layer = (listen: ListenOptions) => ApiServer.layer.pipe(Layer.provide(layerServer(listen)))

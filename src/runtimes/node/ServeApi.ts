// `npm run serve`: the HTTP API on the production adapters (SQS, DynamoDB, S3) and the report source REPORT_SOURCE
// names (for previews), with readiness checks on the queue and both tables, and the built web app. A composition
// of layers and nothing else; its settings are read with `Config`.
import { Config, Effect, Layer } from "effect"
import * as JwtAuthentication from "../../adapters/auth/JwtAuthentication.js"
import * as JwtVerifier from "../../adapters/auth/JwtVerifier.js"
import * as ApiNodeServer from "../../adapters/http/ApiNodeServer.js"
import * as ApiServer from "../../adapters/http/ApiServer.js"
import * as WebAppRoute from "../../adapters/http/WebAppRoute.js"
import * as InProcessEvents from "../../adapters/inprocess/InProcessEvents.js"
import * as ApiAdapters from "../aws/ApiAdapters.js"
import * as ReportSourceConfig from "./ReportSourceConfig.js"

/** Where the API listens: PORT (3000) and HOST (0.0.0.0, as a container expects). */
export const listenConfig = Config.all({
  port: Config.port("PORT").pipe(Config.withDefault(3000)),
  host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0"))
})

/** The API, and the web app (WEB_APP_DIR) at the paths the API does not answer (ADR 36). */
const api = Layer.unwrapEffect(Effect.map(listenConfig, ({ host, port }) =>
  ApiServer.layer.pipe(
    // Built before the API's app reads its router, so that the app has the web app's routes.
    Layer.provide(WebAppRoute.layerConfig),
    Layer.provide(ApiNodeServer.layerServer({ port, host }))
  )))

/** The API with every adapter it needs; a missing or malformed setting fails the build with its name. */
export const layer = api.pipe(
  Layer.provide(JwtAuthentication.layer),
  Layer.provide(JwtVerifier.layerConfig),
  // The workers write in other processes: one poller feeds this process's event streams (ADR 33).
  Layer.provide(
    InProcessEvents.layerPolling.pipe(
      // Previews read the report source the workers export from (ADR 35).
      Layer.provideMerge(Layer.merge(ApiAdapters.layerWithoutReportSource, ReportSourceConfig.layerConfig))
    )
  )
)

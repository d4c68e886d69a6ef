// The service under `npm run bench:accept`: the `npm start` composition (HTTP API, in-process workers, chdb,
// local files) read from the same settings (PORT, DATA_DIR, DEMO_ROWS, WORKER_CONCURRENCY, ...), logging JSON at
// warning level and above only. Prints a ready line with its port once the server listens. Without its in-process
// workers when the bench says so (`--worker-concurrency 0`, for information).
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { embeddedConfig } from "../src/runtimes/server/EmbeddedConfig.js"
import * as EmbeddedServer from "../src/runtimes/server/EmbeddedServer.js"
import { ACCEPT_SERVER_WORKERS_OFF, announceReady, serveParent } from "./childProtocol.js"

const program = Effect.gen(function*() {
  const config = yield* embeddedConfig
  return yield* Layer.launch(
    EmbeddedServer.layer(config, { workers: process.env[ACCEPT_SERVER_WORKERS_OFF] !== "1" }).pipe(
      Layer.tap(() => Effect.sync(() => announceReady(config.port)))
    )
  )
})

serveParent()
NodeRuntime.runMain(
  program.pipe(Effect.provide(Logger.json), Logger.withMinimumLogLevel(LogLevel.Warning)),
  { disablePrettyLogger: true }
)

// `npm run serve`: the API on the production adapters, logging JSON lines, until SIGTERM or SIGINT.
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { ServeApiLive } from "./ServeApi.js"

NodeRuntime.runMain(
  Layer.launch(ServeApiLive).pipe(
    Effect.provide(Logger.json),
    Logger.withMinimumLogLevel(LogLevel.Info)
  ),
  { disablePrettyLogger: true }
)

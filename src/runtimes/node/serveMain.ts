// `npm run serve`: the API on the production adapters, logging JSON lines, until SIGTERM or SIGINT.
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { JsonLogLines } from "../JsonLogLines.js"
import { ServeApiLive } from "./ServeApi.js"

NodeRuntime.runMain(
  Layer.launch(ServeApiLive).pipe(
    Effect.provide(JsonLogLines)
  ),
  { disablePrettyLogger: true }
)

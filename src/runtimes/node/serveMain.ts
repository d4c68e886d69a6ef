// `npm run serve`: the API on the production adapters, logging JSON lines, until SIGTERM or SIGINT.
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as JsonLogLines from "../JsonLogLines.js"
import * as ServeApi from "./ServeApi.js"

NodeRuntime.runMain(
  Layer.launch(ServeApi.layer).pipe(
    Effect.provide(JsonLogLines.layer)
  ),
  { disablePrettyLogger: true }
)

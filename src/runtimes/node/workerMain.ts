// `npm run worker`: the SQS consumer on the production adapters, logging JSON lines, until SIGTERM or SIGINT
// (then running exports get SHUTDOWN_GRACE to finish).
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as JsonLogLines from "../JsonLogLines.js"
import { applyWorkerHeapGrowth } from "../WorkerProcessSettings.js"
import * as Worker from "./Worker.js"

applyWorkerHeapGrowth()

NodeRuntime.runMain(
  Layer.launch(Worker.layer).pipe(
    Effect.provide(JsonLogLines.layer)
  ),
  { disablePrettyLogger: true }
)

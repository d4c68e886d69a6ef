// `npm run worker`: the SQS consumer on the production adapters, logging JSON lines, until SIGTERM or SIGINT
// (then running exports get SHUTDOWN_GRACE to finish).
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { JsonLogLines } from "../JsonLogLines.js"
import { applyWorkerHeapGrowth } from "../WorkerProcessSettings.js"
import { WorkerLive } from "./Worker.js"

applyWorkerHeapGrowth()

NodeRuntime.runMain(
  Layer.launch(WorkerLive).pipe(
    Effect.provide(JsonLogLines)
  ),
  { disablePrettyLogger: true }
)

// Preloaded into a bench's server (`node --import tsx --import ./bench/loopDelayProbe.ts ...`): measures the event
// loop's delay inside the server's process, with no line of the server's own code changed for it. Over the IPC
// channel the bench starts with, "loop-delay-reset" starts a new window and "loop-delay" answers its percentiles.
import { monitorEventLoopDelay } from "node:perf_hooks"
import { isLoopDelayRequest, LOOP_DELAY_RESOLUTION_MS } from "./childProtocol.js"
import type { LoopDelayReply } from "./childProtocol.js"

const histogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS })
histogram.enable()

const millis = (nanos: number): number => nanos / 1e6

if (process.send !== undefined) {
  process.on("message", (message) => {
    if (!isLoopDelayRequest(message)) return
    if (message === "loop-delay-reset") return histogram.reset()
    const reply: LoopDelayReply = {
      type: "loopDelay",
      samples: histogram.count,
      p50Ms: millis(histogram.percentile(50)),
      p99Ms: millis(histogram.percentile(99)),
      maxMs: millis(histogram.max)
    }
    process.send?.(reply)
  })
}

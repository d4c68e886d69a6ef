// Preloaded into a bench's server (`node --import tsx --import ./bench/loopDelayProbe.ts ...`): measures the event
// loop's delay inside the server's process, and what its collector did meanwhile, with no line of the server's own
// code changed for it. Over the IPC channel the bench starts with, "loop-delay-reset" starts a new window and
// "loop-delay" answers its percentiles and the window's collections.
import { monitorEventLoopDelay } from "node:perf_hooks"
import { GCProfiler, getHeapStatistics } from "node:v8"
import { isLoopDelayRequest, LOOP_DELAY_RESOLUTION_MS } from "./childProtocol.js"
import type { GcWindow, LoopDelayReply } from "./childProtocol.js"

const histogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS })
histogram.enable()

const millis = (nanos: number): number => nanos / 1e6

/** The window's collections: started at a reset, read (and stopped) when the bench asks. */
let gcWindow: { readonly profiler: GCProfiler; readonly usedAtStart: number } | undefined

const startGcWindow = (): void => {
  gcWindow?.profiler.stop()
  const profiler = new GCProfiler()
  profiler.start()
  gcWindow = { profiler, usedAtStart: getHeapStatistics().used_heap_size }
}

const endGcWindow = (): GcWindow | undefined => {
  if (gcWindow === undefined) return undefined
  const { profiler, usedAtStart } = gcWindow
  gcWindow = undefined
  const usedNow = getHeapStatistics().used_heap_size
  const collections = profiler.stop()?.statistics ?? []
  let young = 0
  let full = 0
  let pauseMs = 0
  let maxPauseMs = 0
  // The heap only shrinks in a collection: what it grew by from one collection's end to the next one's start is
  // what was allocated in between.
  let allocatedBytes = 0
  let usedAfterLast = usedAtStart
  for (const collection of collections) {
    if (collection.gcType === "MarkSweepCompact") full++
    else if (collection.gcType === "Scavenge" || collection.gcType === "MinorMarkSweep") young++
    const costMs = collection.cost / 1000
    pauseMs += costMs
    maxPauseMs = Math.max(maxPauseMs, costMs)
    allocatedBytes += Math.max(0, collection.beforeGC.heapStatistics.usedHeapSize - usedAfterLast)
    usedAfterLast = collection.afterGC.heapStatistics.usedHeapSize
  }
  allocatedBytes += Math.max(0, usedNow - usedAfterLast)
  return { young, full, pauseMs, maxPauseMs, allocatedBytes }
}

if (process.send !== undefined) {
  process.on("message", (message) => {
    if (!isLoopDelayRequest(message)) return
    if (message === "loop-delay-reset") {
      histogram.reset()
      startGcWindow()
      return
    }
    const reply: LoopDelayReply = {
      type: "loopDelay",
      samples: histogram.count,
      p50Ms: millis(histogram.percentile(50)),
      p99Ms: millis(histogram.percentile(99)),
      maxMs: millis(histogram.max),
      gc: endGcWindow()
    }
    process.send?.(reply)
  })
}

// What a benchmark's server child and its parent say to each other: the child prints one ready line with its
// port on stdout, and, when started with an IPC channel, answers "stats" with its resource usage so far.

export const READY_PREFIX = "bench-ready "

/** Set in bench:accept's service child by `--worker-concurrency 0`: the composition without its in-process workers. */
export const ACCEPT_SERVER_WORKERS_OFF = "BENCH_ACCEPT_WORKERS_OFF"

export interface ReadyLine {
  readonly port: number
  readonly pid: number
}

export interface StatsReply {
  readonly type: "stats"
  /** Peak resident set size over the process's life so far. */
  readonly maxRssBytes: number
  readonly rssBytes: number
  /** CPU time used so far, user plus system, in microseconds (every thread of the process). */
  readonly cpuMicros: number
}

export const isStatsReply = (message: unknown): message is StatsReply =>
  typeof message === "object" && message !== null && (message as { type?: unknown }).type === "stats"

export const announceReady = (port: number): void => {
  const line: ReadyLine = { port, pid: process.pid }
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(line)}\n`)
}

/** Answers the parent's "stats" messages; stops this process (as SIGTERM would) if the parent goes away. */
export const serveParent = (): void => {
  if (process.send === undefined) return
  process.on("message", (message) => {
    if (message !== "stats") return
    const usage = process.resourceUsage()
    const reply: StatsReply = {
      type: "stats",
      maxRssBytes: usage.maxRSS * 1024,
      rssBytes: process.memoryUsage.rss(),
      cpuMicros: usage.userCPUTime + usage.systemCPUTime
    }
    process.send?.(reply)
  })
  process.on("disconnect", () => process.kill(process.pid, "SIGTERM"))
}

/**
 * The sampling interval of the loop delay probe (bench/loopDelayProbe.ts). Every sample is the time between two
 * ticks of a timer of this interval, so each includes up to this much besides the delay itself.
 */
export const LOOP_DELAY_RESOLUTION_MS = 1

export type LoopDelayRequest = "loop-delay-reset" | "loop-delay"

export const isLoopDelayRequest = (message: unknown): message is LoopDelayRequest =>
  message === "loop-delay-reset" || message === "loop-delay"

/** The collector's work in the server since the last reset, from V8's own record of each collection (`v8.GCProfiler`). */
export interface GcWindow {
  /** Young-generation collections (V8's scavenges and minor mark-sweeps). */
  readonly young: number
  /** Full collections (mark-compact). */
  readonly full: number
  /** Every collection's time on the main thread, and the longest one. */
  readonly pauseMs: number
  readonly maxPauseMs: number
  /**
   * What the main thread's heap grew by between collections, summed, plus its growth since the last one: the bytes
   * it allocated in the window (a worker thread's heap is its own, not counted), a figure the machine's load does
   * not move.
   */
  readonly allocatedBytes: number
}

/** The event loop's delay in the server since the last reset, as `monitorEventLoopDelay` measured it. */
export interface LoopDelayReply {
  readonly type: "loopDelay"
  readonly samples: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly gc: GcWindow | undefined
}

export const isLoopDelayReply = (message: unknown): message is LoopDelayReply =>
  typeof message === "object" && message !== null && (message as { type?: unknown }).type === "loopDelay"

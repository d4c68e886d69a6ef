// What a program records about itself, for tests of its spans and log lines together.
import { Effect, Logger, LogLevel } from "effect"
import { makeLogCollector } from "./LogCollector.js"
import type { LoggedLine } from "./LogCollector.js"
import { recordingTracer } from "./RecordingTracer.js"
import type { RecordedSpan } from "./RecordingTracer.js"

/**
 * Runs `effect` with a recording tracer and a logger that keeps every line at every level, in place of the default
 * one. Provide the layers `effect` needs inside it, so that the fibers they start trace and log here too.
 */
export const observed = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<
  { readonly result: A; readonly spans: ReadonlyArray<RecordedSpan>; readonly lines: ReadonlyArray<LoggedLine> },
  E,
  R
> => {
  const { spans, tracer } = recordingTracer()
  const logs = makeLogCollector()
  return effect.pipe(
    Effect.provide(logs.replacing),
    Logger.withMinimumLogLevel(LogLevel.All),
    Effect.withTracer(tracer),
    Effect.map((result) => ({ result, spans, lines: logs.lines }))
  )
}

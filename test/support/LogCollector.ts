// A logger for tests that keeps every line it receives, in place of the default logger or beside it, so that a test
// can assert on what was logged: each test derives what it checks (texts, annotations, levels) from these lines.
import { Cause, HashMap, List, Logger } from "effect"
import type { Layer } from "effect"

/**
 * One line a logger received: its level, its message parts, its annotations, the labels of its spans, and its
 * cause as `Cause.pretty` renders it (`undefined` when the line has none).
 */
export interface LoggedLine {
  readonly level: string
  readonly message: ReadonlyArray<unknown>
  readonly annotations: Readonly<Record<string, unknown>>
  readonly spans: ReadonlyArray<string>
  readonly cause: string | undefined
}

export interface LogCollector {
  /** Every line logged so far, in order; grows as the program logs. */
  readonly lines: ReadonlyArray<LoggedLine>
  /** The collecting logger, for `Logger.add` (beside the default logger) or a runtime that takes a logger. */
  readonly logger: Logger.Logger<unknown, void>
  /** The collecting logger in place of the default one: `Effect.provide(collector.replacing)`. */
  readonly replacing: Layer.Layer<never>
}

export const makeLogCollector = (): LogCollector => {
  const lines: Array<LoggedLine> = []
  const logger = Logger.make<unknown, void>(({ annotations, cause, logLevel, message, spans }) => {
    lines.push({
      level: logLevel.label,
      message: Array.isArray(message) ? message : [message],
      annotations: Object.fromEntries(HashMap.toEntries(annotations)),
      spans: List.toArray(spans).map((span) => span.label),
      cause: Cause.isEmpty(cause) ? undefined : Cause.pretty(cause, { renderErrorCause: true })
    })
  })
  return { lines, logger, replacing: Logger.replace(Logger.defaultLogger, logger) }
}

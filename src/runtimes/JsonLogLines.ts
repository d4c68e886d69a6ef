// How every production runtime logs (the Node server and worker, the embedded server, both Lambda functions): one
// JSON object a line, at Info and above, in the shape log tools index. `message` is the text; the fields a call logs
// beside it and the fiber's annotations (`jobId`, `requestId`, ...) are top-level keys. What reaches a line is
// masked where it is logged (addresses, tokens and row text never are), so this only lays it out.
import { Cause, Layer, List, Logger, LogLevel } from "effect"
import type { HashMap, LogSpan } from "effect"

/** Keys a line always has; a field or annotation of the same name is kept under `fields` instead. */
const RESERVED = new Set(["timestamp", "level", "message", "spans", "cause", "fields"])

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Error)

// bigint is not JSON; an Error's own fields are not enumerable.
const replacer = (_key: string, value: unknown): unknown =>
  typeof value === "bigint"
    ? value.toString()
    : value instanceof Error
    ? { name: value.name, message: value.message }
    : value

export interface LogEntry {
  readonly date: Date
  readonly logLevel: LogLevel.LogLevel
  readonly message: unknown
  readonly annotations: HashMap.HashMap<string, unknown>
  readonly spans: List.List<LogSpan.LogSpan>
  readonly cause: Cause.Cause<unknown>
}

/** One entry as its JSON line. */
export const jsonLogLine = (entry: LogEntry): string => {
  const parts = Array.isArray(entry.message) ? (entry.message as ReadonlyArray<unknown>) : [entry.message]
  const text: Array<string> = []
  const fields: Record<string, unknown> = {}
  const clashing: Record<string, unknown> = {}
  const add = (key: string, value: unknown) => {
    if (RESERVED.has(key)) clashing[key] = value
    else fields[key] = value
  }
  for (const [key, value] of entry.annotations) add(key, value)
  for (const part of parts) {
    if (isRecord(part)) { for (const [key, value] of Object.entries(part)) add(key, value) }
    else text.push(typeof part === "string" ? part : JSON.stringify(part, replacer))
  }
  const now = entry.date.getTime()
  const spans = Object.fromEntries(List.toArray(entry.spans).map((span) => [span.label, now - span.startTime]))
  return JSON.stringify(
    {
      timestamp: entry.date.toISOString(),
      level: entry.logLevel.label,
      message: text.join(" "),
      ...fields,
      ...(Object.keys(clashing).length > 0 ? { fields: clashing } : {}),
      ...(Object.keys(spans).length > 0 ? { spans } : {}),
      ...(Cause.isEmpty(entry.cause) ? {} : { cause: Cause.pretty(entry.cause, { renderErrorCause: true }) })
    },
    replacer
  )
}

const jsonLogLogger = Logger.make((entry) => globalThis.console.log(jsonLogLine(entry)))

/** JSON lines on standard output from Info up, in place of Effect's default logger. */
export const layer: Layer.Layer<never> = Layer.merge(
  Logger.replace(Logger.defaultLogger, jsonLogLogger),
  Logger.minimumLogLevel(LogLevel.Info)
)

// Readable log lines for a terminal: time, the job they belong to, the message and its details.
import { Cause, HashMap, Inspectable, Logger, Option } from "effect"

const describe = (value: unknown): string => {
  if (typeof value === "string") return value
  if (value !== null && typeof value === "object") {
    return Object.entries(value as Record<string, unknown>)
      .map(([key, detail]) => `${key}=${typeof detail === "string" ? detail : Inspectable.format(detail)}`)
      .join(" ")
  }
  return Inspectable.format(value)
}

export const timelineLogger = (write: (line: string) => void) =>
  Logger.make(({ annotations, cause, date, logLevel, message }) => {
    const jobId = Option.match(HashMap.get(annotations, "jobId"), {
      onNone: () => "".padEnd(13),
      onSome: (id) => `job …${String(id).slice(-8)}`
    })
    const parts = (Array.isArray(message) ? message : [message]).map(describe).filter((part) => part.length > 0)
    const level = logLevel.label === "INFO" ? "" : ` ${logLevel.label}`
    const failure = Cause.isEmpty(cause) ? "" : ` ${Cause.pretty(cause).split("\n")[0]}`
    write(`${date.toISOString().slice(11, 23)}  ${jobId}${level}  ${parts.join("  ")}${failure}`)
  })

// The production runtimes' log lines: a string `message` and every field at the top level, so that log tools index
// `jobId`, `requestId`, `status` and the rest; what the code logs is laid out, never dropped.
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, HashMap, List, LogLevel } from "effect"
import * as JsonLogLines from "../../src/runtimes/JsonLogLines.js"
import { jsonLogLine } from "../../src/runtimes/JsonLogLines.js"

const entry = (
  message: unknown,
  annotations: Record<string, unknown> = {},
  cause: Cause.Cause<unknown> = Cause.empty
) => ({
  date: new Date("2026-12-03T10:00:00.000Z"),
  logLevel: LogLevel.Info,
  message,
  annotations: HashMap.fromIterable(Object.entries(annotations)),
  spans: List.empty(),
  cause
})

describe("a JSON log line", () => {
  it("has the text as `message` and the logged fields and annotations as top-level keys", () => {
    const line: unknown = JSON.parse(
      jsonLogLine(entry(["http", { method: "POST", status: 202, ms: 7 }], { requestId: "r-1" }))
    )
    expect(line).toStrictEqual({
      timestamp: "2026-12-03T10:00:00.000Z",
      level: "INFO",
      message: "http",
      method: "POST",
      status: 202,
      ms: 7,
      requestId: "r-1"
    })
  })

  it("keeps a field that shares a line key's name under `fields`, and renders bigints and the cause", () => {
    const line = JSON.parse(
      jsonLogLine(entry(["export failed", { message: "shadowed", rows: 12n }], { jobId: "j-1" }, Cause.fail("boom")))
    ) as Record<string, unknown>
    expect(line["message"]).toBe("export failed")
    expect(line["fields"]).toStrictEqual({ message: "shadowed" })
    expect(line["rows"]).toBe("12")
    expect(line["jobId"]).toBe("j-1")
    expect(String(line["cause"])).toContain("boom")
  })

  it.effect("is what the runtimes' layer writes, from Info up", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const log = console.log
      console.log = (text: string) => written.push(text)
      yield* Effect.logDebug("hidden").pipe(
        Effect.zipRight(Effect.logInfo("export running", { rows: 3 })),
        Effect.annotateLogs("jobId", "j-2"),
        Effect.provide(JsonLogLines.layer),
        Effect.ensuring(Effect.sync(() => (console.log = log)))
      )
      expect(written.map((text) => JSON.parse(text) as Record<string, unknown>)).toMatchObject([
        { level: "INFO", message: "export running", rows: 3, jobId: "j-2" }
      ])
    }))
})

// The rows one export may write (ADR 45): a report with more fails once the limit is passed, with a message that
// asks for a narrower range, no retry and no file kept; a report of exactly the limit is exported whole.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryFiles } from "../../src/adapters/memory/MemoryFileStore.js"
import { ExportSettings } from "../../src/application/ExportSettings.js"
import { requestExport } from "../../src/application/RequestExport.js"
import { alice, drainQueue, ordersInput, storedJob, testLayer } from "../support/Fixtures.js"

const LINES = 120

const withRowLimit = (rowsPerExport: number) =>
  testLayer(LINES, { limits: { ...ExportSettings.defaults.limits, rowsPerExport } })

describe("the rows one export may write", () => {
  it.effect("past the limit the export fails in words, is not retried, and keeps no file", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* drainQueue
      const failed = yield* storedJob(job.jobId)
      expect(failed._tag).toBe("Failed")
      if (failed._tag !== "Failed") return
      expect(failed.failure.reason).toBe("TooManyRows")
      expect(failed.failure.retryable).toBe(false)
      expect(failed.failure.userMessage).toBe(
        "This report has more than 100 rows, the most one export may have. Choose a narrower date range, or split " +
          "the export into several parts."
      )
      expect(failed.attempts).toBe(1)
      expect(yield* (yield* MemoryFiles).keys).toStrictEqual([])
    }).pipe(Effect.provide(withRowLimit(100))))

  it.effect("a report of exactly the limit is exported whole", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* drainQueue
      const done = yield* storedJob(job.jobId)
      expect(done._tag).toBe("Succeeded")
      if (done._tag === "Succeeded") expect(done.result.rowCount).toBe(LINES)
    }).pipe(Effect.provide(withRowLimit(LINES))))
})

import { describe, expect, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import { Effect, Option } from "effect"
import { MemoryFileStore } from "../../src/adapters/memory/MemoryFileStore.js"
import { MemoryEmailSender, MemoryInAppNotifier } from "../../src/adapters/memory/MemoryNotifications.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { requestExport } from "../../src/application/RequestExport.js"
import { alice, drainQueue, ordersInput, testLayer } from "../support/Fixtures.js"

describe("RunExport", () => {
  it.effect("exports the orders report to a CSV file and tells the user twice", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const verdicts = yield* drainQueue
      expect(verdicts.map((v) => v._tag)).toEqual(["Ack"])
      const stored = Option.getOrThrow(yield* (yield* JobStore).get(job.jobId))
      expect(stored._tag).toBe("Succeeded")
      if (stored._tag !== "Succeeded") return
      const file = Option.getOrThrow(yield* (yield* MemoryFileStore).read(stored.result.objectKey))
      const rows: Array<Array<string>> = parse(Buffer.from(file.bytes), { relax_column_count: false })
      expect(rows.length).toBe(51)
      expect(stored.result.rowCount).toBe(50)
      expect(stored.result.byteSize).toBe(file.bytes.length)
      expect((yield* (yield* MemoryEmailSender).outbox).length).toBe(1)
      expect((yield* (yield* MemoryInAppNotifier).deliveries).length).toBe(1)
    }).pipe(Effect.provide(testLayer(50))))
})

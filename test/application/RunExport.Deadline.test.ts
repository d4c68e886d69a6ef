// The query timeout bounds the query, not the upload: it races the whole attempt, and holds only while rows are
// still coming from the source.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Option, TestClock } from "effect"
import { FaultInjection } from "../../src/adapters/memory/FaultInjection.js"
import { MemoryFileStore } from "../../src/adapters/memory/MemoryFileStore.js"
import { FileStore } from "../../src/application/ports/FileStore.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { requestExport } from "../../src/application/RequestExport.js"
import type { ExportJob } from "../../src/domain/ExportJob.js"
import { objectKeyFor } from "../../src/domain/ExportJob.js"
import { alice, drainQueue, ordersInput, testLayer } from "../support/Fixtures.js"

const ROWS = 20
const QUERY_TIMEOUT = Duration.minutes(10)

/** The memory store, but an upload takes `finishing` more once it has read the whole body (a slow completion). */
const finishingSlowly = (finishing: Duration.Duration) =>
  Layer.effect(
    FileStore,
    Effect.map(MemoryFileStore, (store) =>
      FileStore.of({
        upload: (key, body, metadata) => Effect.zipLeft(store.upload(key, body, metadata), Effect.sleep(finishing)),
        signDownload: store.signDownload
      }))
  )

const storedJob = (jobId: ExportJob["jobId"]) =>
  Effect.flatMap(JobStore, (store) => store.get(jobId)).pipe(Effect.map(Option.getOrThrow))

describe("RunExport's query deadline", () => {
  it.effect("does not fail an upload that is still finishing after the query's last row", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const worker = yield* Effect.fork(drainQueue)
      yield* TestClock.adjust(Duration.minutes(30))
      yield* Fiber.join(worker)
      const done = yield* storedJob(job.jobId)
      expect(done._tag).toBe("Succeeded")
      expect(done._tag === "Succeeded" && done.result.rowCount).toBe(ROWS)
    }).pipe(
      Effect.provide(finishingSlowly(Duration.sum(QUERY_TIMEOUT, Duration.minutes(5)))),
      Effect.provide(testLayer(ROWS, { queryTimeout: QUERY_TIMEOUT }))
    ))

  it.effect("fails a query that stops sending rows at the timeout, and the interrupted upload leaves no file", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* (yield* FaultInjection).set({ query: { kind: "hang", afterRows: 5 } })
      const worker = yield* Effect.fork(drainQueue)
      yield* TestClock.adjust(Duration.minutes(9))
      expect((yield* storedJob(job.jobId))._tag).toBe("Running")
      yield* TestClock.adjust(Duration.minutes(1))
      yield* Fiber.join(worker)
      const done = yield* storedJob(job.jobId)
      expect(done._tag === "Failed" && done.failure.reason).toBe("QueryTimeout")
      expect(yield* (yield* MemoryFileStore).uploadsStarted).toBeGreaterThan(0)
      expect(Option.isNone(yield* (yield* MemoryFileStore).read(objectKeyFor({ ...job, attempts: 1 })))).toBe(true)
    }).pipe(Effect.provide(testLayer(ROWS, { queryTimeout: QUERY_TIMEOUT }))))
})

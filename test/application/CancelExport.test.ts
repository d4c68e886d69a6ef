import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, Stream, TestClock } from "effect"
import { MemoryFiles } from "../../src/adapters/memory/MemoryFileStore.js"
import { cancelExport } from "../../src/application/CancelExport.js"
import { handleDelivery } from "../../src/application/ExportWorker.js"
import type { AuditTrail } from "../../src/application/ports/AuditTrail.js"
import type { ExportLinks } from "../../src/application/ports/ExportLinks.js"
import { bytesReader, FileStore } from "../../src/application/ports/FileStore.js"
import type { FileMetadata } from "../../src/application/ports/FileStore.js"
import type { InAppNotifier } from "../../src/application/ports/InAppNotifier.js"
import { encodeMessage } from "../../src/application/ports/JobQueue.js"
import type { JobStore } from "../../src/application/ports/JobStore.js"
import { ReportSource } from "../../src/application/ports/ReportSource.js"
import { messageFor, requestExport } from "../../src/application/RequestExport.js"
import type { ObjectKey } from "../../src/domain/ExportJob.js"
import { alice, bob, drainQueue, ordersInput, sentTo, storedJob, testLayer } from "../support/Fixtures.js"

/** The memory source, which sends a first piece of the file (its upload under way), then stalls until `release`. */
const stallingSource = Effect.gen(function*() {
  const memory = yield* ReportSource
  const stalled = yield* Deferred.make<void>()
  const release = yield* Deferred.make<void>()
  const source = ReportSource.of({
    rows: memory.rows,
    parquet: memory.parquet,
    preview: memory.preview,
    csv: (query) =>
      Stream.concat(
        Stream.take(memory.csv(query), 1),
        Stream.unwrap(
          Deferred.succeed(stalled, undefined).pipe(
            Effect.zipRight(Deferred.await(release)),
            Effect.as(Stream.drop(memory.csv(query), 1))
          )
        )
      )
  })
  return { source, stalled, release }
})

/** An export whose delivery runs on a stalling source, returned once its upload is under way. */
const exportRunning = Effect.gen(function*() {
  const job = yield* requestExport(alice, ordersInput())
  const slow = yield* stallingSource
  const delivery = yield* Effect.fork(
    handleDelivery(encodeMessage(messageFor(job)), { receiveCount: 1, maxReceives: 3 }).pipe(
      Effect.provideService(ReportSource, slow.source)
    )
  )
  yield* Deferred.await(slow.stalled)
  return { job, delivery, release: slow.release }
})

describe("progress", () => {
  it.effect("shows the rows written while the export runs, written at most once a second, and is gone once done", () =>
    Effect.gen(function*() {
      const { delivery, job, release } = yield* exportRunning
      const before = yield* storedJob(job.jobId)
      expect(before._tag === "Running" && before.progress).toBe(undefined)
      yield* TestClock.adjust(Duration.seconds(1))
      const running = yield* storedJob(job.jobId)
      if (running._tag !== "Running") return expect.fail(`job is ${running._tag}`)
      expect(running.progress?.rows).toBeGreaterThan(0)
      expect(running.progress?.bytes).toBeGreaterThan(0)
      // Nothing changed since: no write in the next seconds.
      yield* TestClock.adjust(Duration.seconds(3))
      expect((yield* storedJob(job.jobId)).revision).toBe(running.revision)

      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(delivery)
      const done = yield* storedJob(job.jobId)
      if (done._tag !== "Succeeded") return expect.fail(`job ended ${done._tag}`)
      expect(done.result.rowCount).toBeGreaterThanOrEqual(running.progress!.rows)
      expect("progress" in done).toBe(false)
    }).pipe(Effect.provide(testLayer(5000))))
})

describe("cancelExport", () => {
  it.effect("cancels a queued job at once; its message is then acknowledged with no work; one notice, no email", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const cancelled = yield* cancelExport(alice.owner, job.jobId)
      expect(cancelled._tag).toBe("Cancelled")
      const verdicts = yield* drainQueue
      expect(verdicts.map((verdict) => verdict._tag === "Ack" && verdict.outcome._tag)).toStrictEqual([
        "AlreadyFinished"
      ])
      expect(yield* (yield* MemoryFiles).uploadsStarted).toBe(0)
      expect((yield* storedJob(job.jobId))._tag).toBe("Cancelled")
      const { emails, inApp } = yield* sentTo(job.jobId)
      expect(emails).toHaveLength(0)
      expect(inApp.map((notice) => [notice.kind, notice.title])).toStrictEqual([[
        "export_cancelled",
        "Export cancelled"
      ]])
    }).pipe(Effect.provide(testLayer())))

  it.effect("is idempotent and for the owner only: again, the same answer and still one notice; another owner, none", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const other = yield* Effect.flip(cancelExport(bob.owner, job.jobId))
      expect(other._tag).toBe("JobNotFound")
      expect((yield* storedJob(job.jobId))._tag).toBe("Queued")
      yield* cancelExport(alice.owner, job.jobId)
      const again = yield* cancelExport(alice.owner, job.jobId)
      expect(again._tag).toBe("Cancelled")
      const ids = new Set((yield* sentTo(job.jobId)).inApp.map((notice) => notice.id))
      expect(ids.size).toBe(1)
    }).pipe(Effect.provide(testLayer())))

  it.effect("refuses a finished job with ExportAlreadyFinished, and changes nothing", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* drainQueue
      const error = yield* Effect.flip(cancelExport(alice.owner, job.jobId))
      expect(error._tag === "ExportAlreadyFinished" && error.status).toBe("Succeeded")
      expect((yield* storedJob(job.jobId))._tag).toBe("Succeeded")
    }).pipe(Effect.provide(testLayer())))

  it.effect("stops a running export within 2 s: its upload is interrupted, no file is left, one notice", () =>
    Effect.gen(function*() {
      const { delivery, job } = yield* exportRunning
      // Its progress written, so that nothing more changes: the worker must look at the job to notice.
      yield* TestClock.adjust(Duration.seconds(1))
      yield* cancelExport(alice.owner, job.jobId)
      yield* TestClock.adjust(Duration.seconds(2))
      // Done within the 2 s: the source is still stalled, so only the worker's own check can have ended it.
      const verdict = yield* Fiber.join(delivery).pipe(Effect.timeoutFail({
        duration: Duration.millis(1),
        onTimeout: () => "the worker did not notice the cancel within 2 s"
      }))
      expect(verdict._tag === "Ack" && verdict.outcome._tag).toBe("Cancelled")
      expect(yield* (yield* MemoryFiles).keys).toStrictEqual([])
      expect((yield* storedJob(job.jobId))._tag).toBe("Cancelled")
      const { emails, inApp } = yield* sentTo(job.jobId)
      expect([emails.length, inApp.length]).toStrictEqual([0, 1])
    }).pipe(Effect.provide(testLayer(5000))))

  it.effect("stops a running export the same way when the lease's renewal finds the cancel first", () =>
    Effect.gen(function*() {
      // A lease of 1.5 s is renewed every 0.5 s: the renewal after the cancel comes before the timer's first tick.
      const { delivery, job } = yield* exportRunning
      yield* cancelExport(alice.owner, job.jobId)
      yield* TestClock.adjust(Duration.millis(600))
      const verdict = yield* Fiber.join(delivery).pipe(Effect.timeoutFail({
        duration: Duration.millis(1),
        onTimeout: () => "the worker did not stop at the lease's renewal"
      }))
      expect(verdict._tag === "Ack" && verdict.outcome._tag).toBe("Cancelled")
      expect(yield* (yield* MemoryFiles).keys).toStrictEqual([])
      expect((yield* storedJob(job.jobId))._tag).toBe("Cancelled")
      const { emails, inApp } = yield* sentTo(job.jobId)
      expect([emails.length, inApp.length]).toStrictEqual([0, 1])
    }).pipe(Effect.provide(testLayer(5000, { lease: Duration.millis(1500) }))))

  it.effect("deletes the file of an upload that completed as the cancel landed: no object that no record names", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const verdicts = yield* drainQueue.pipe(
        // The cancel lands just after the upload completed, before the worker records it.
        Effect.provide(Layer.effect(
          FileStore,
          Effect.gen(function*() {
            const files = yield* MemoryFiles
            const cancel = Effect.orDie(cancelExport(alice.owner, job.jobId)).pipe(
              Effect.provide(yield* Effect.context<JobStore | InAppNotifier | ExportLinks | AuditTrail>())
            )
            return FileStore.of({
              ...files,
              upload: <A, E>(
                key: ObjectKey,
                body: Stream.Stream<A, E>,
                metadata: FileMetadata,
                bytesOf?: (piece: A) => Uint8Array
              ) => Effect.zipLeft(files.upload(key, body, metadata, bytesReader(bytesOf)), cancel)
            })
          })
        ))
      )
      expect(verdicts.map((verdict) => verdict._tag === "Ack" && verdict.outcome._tag)).toStrictEqual(["Cancelled"])
      expect(yield* (yield* MemoryFiles).uploadsStarted).toBe(1)
      expect(yield* (yield* MemoryFiles).keys).toStrictEqual([])
      expect((yield* storedJob(job.jobId))._tag).toBe("Cancelled")
      expect((yield* sentTo(job.jobId)).inApp).toHaveLength(1)
    }).pipe(Effect.provide(testLayer())))
})

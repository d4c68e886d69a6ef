// Export again on the in-memory adapters: a new job with the first one's report, parameters and format, for its
// owner only, and only once the first one has ended and left nothing to download.
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Either, Option, TestClock } from "effect"
import { MemoryQueue } from "../../src/adapters/memory/MemoryJobQueue.js"
import { exportAgain } from "../../src/application/ExportAgain.js"
import { ExportSettings } from "../../src/application/ExportSettings.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { requestExport } from "../../src/application/RequestExport.js"
import { JobFailure, transition } from "../../src/domain/ExportJob.js"
import type { JobEvent } from "../../src/domain/ExportJob.js"
import { alice, bob, drainQueue, ordersInput, storedJob, testLayer } from "../support/Fixtures.js"

const failure = new JobFailure({ reason: "QueryFailed", userMessage: "We could not read it.", retryable: true })

/** Alice's job for `input`, moved on by `event` as a worker or a cancel would. */
const endedAs = (event: (at: DateTime.Utc) => JobEvent, input = ordersInput({ status: "paid" })) =>
  Effect.gen(function*() {
    const job = yield* requestExport(alice, input)
    const ended = Either.getOrThrow(transition(job, event(yield* DateTime.now)))
    yield* (yield* JobStore).update(ended, job.revision)
    return ended
  })

const notRetryable = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (error) => expect(error._tag).toBe("ExportNotRetryable"))

describe("ExportAgain", () => {
  it.effect("a failed export: a new queued job with the same report, parameters, format and owner, published", () =>
    Effect.gen(function*() {
      const failed = yield* endedAs((at) => ({ _tag: "Failed", at, failure }))
      const again = yield* exportAgain(alice, failed.jobId)
      expect(again._tag).toBe("Queued")
      expect(again.jobId).not.toBe(failed.jobId)
      expect(again.owner).toStrictEqual(failed.owner)
      expect(again.report).toStrictEqual(failed.report)
      expect(again.format).toBe(failed.format)
      const published = (yield* (yield* MemoryQueue).published).map((body) => JSON.parse(body) as { jobId: string })
      expect(published.map((message) => message.jobId)).toContain(again.jobId)
      yield* drainQueue
      expect((yield* storedJob(again.jobId))._tag).toBe("Succeeded")
    }).pipe(Effect.provide(testLayer())))

  it.effect("a cancelled export, and a succeeded one once its file has expired", () =>
    Effect.gen(function*() {
      const cancelled = yield* endedAs((at) => ({ _tag: "Cancelled", at }))
      expect((yield* exportAgain(alice, cancelled.jobId)).report).toStrictEqual(cancelled.report)

      const first = yield* requestExport(alice, ordersInput({ dateFrom: "2024-02-01" }))
      yield* drainQueue
      const succeeded = yield* storedJob(first.jobId)
      yield* notRetryable(exportAgain(alice, first.jobId))
      const { linkTtl } = yield* ExportSettings
      yield* TestClock.adjust(Duration.sum(linkTtl, Duration.seconds(1)))
      const again = yield* exportAgain(alice, first.jobId)
      expect(again.jobId).not.toBe(first.jobId)
      expect(again.report).toStrictEqual(succeeded.report)
    }).pipe(Effect.provide(testLayer())))

  it.effect("a job in progress is refused, and so is a job of another owner, as if it did not exist", () =>
    Effect.gen(function*() {
      const queued = yield* requestExport(alice, ordersInput())
      yield* notRetryable(exportAgain(alice, queued.jobId))
      const failed = yield* endedAs((at) => ({ _tag: "Failed", at, failure }), ordersInput({ status: "shipped" }))
      const stranger = yield* Effect.flip(exportAgain(bob, failed.jobId))
      expect(stranger._tag).toBe("JobNotFound")
      expect(yield* (yield* JobStore).listByOwner(bob.owner, { limit: 10, after: undefined })).toMatchObject({
        jobs: []
      })
    }).pipe(Effect.provide(testLayer())))

  it.effect("the same Idempotency-Key answers with the same new job; an identical export in progress is reused", () =>
    Effect.gen(function*() {
      const failed = yield* endedAs((at) => ({ _tag: "Failed", at, failure }))
      const first = yield* exportAgain(alice, failed.jobId, { idempotencyKey: "again-1" })
      const repeated = yield* exportAgain(alice, failed.jobId, { idempotencyKey: "again-1" })
      expect(repeated.jobId).toBe(first.jobId)
      const withoutKey = yield* exportAgain(alice, failed.jobId)
      expect(withoutKey.jobId).toBe(first.jobId)
      expect(Option.isSome(yield* (yield* JobStore).get(first.jobId))).toBe(true)
    }).pipe(Effect.provide(testLayer())))
})

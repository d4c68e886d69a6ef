import { assert, describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Either, Fiber, Layer, TestClock } from "effect"
import { MemoryQueue } from "../../src/adapters/memory/MemoryJobQueue.js"
import { handleDelivery } from "../../src/application/ExportWorker.js"
import { encodeMessage } from "../../src/application/ports/JobQueue.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { messageFor, requestExport } from "../../src/application/RequestExport.js"
import * as SweepOverdueJobs from "../../src/application/SweepOverdueJobs.js"
import { sweepOverdueJobs } from "../../src/application/SweepOverdueJobs.js"
import type { ExportJob } from "../../src/domain/ExportJob.js"
import { abandonedFailure, Lease, Started, transition } from "../../src/domain/ExportJob.js"
import { alice, bob, drainQueue, ordersInput, sentTo, storedJob, testLayer } from "../support/Fixtures.js"
import { makeLogCollector } from "../support/LogCollector.js"

const DEADLINE = Duration.hours(6)
/** Just past the deadline of a job requested now. */
const PAST_DEADLINE = Duration.sum(DEADLINE, Duration.millis(1))
const settings = { deadline: DEADLINE }

/**
 * A job whose message is gone, as one that went to the dead-letter queue (or that the queue lost) leaves it: nothing
 * will ever deliver it again.
 */
const orphanedJob = (caller = alice) =>
  Effect.gen(function*() {
    const job = yield* requestExport(caller, ordersInput())
    const delivery = yield* (yield* MemoryQueue).receive
    expect(delivery.body).toBe(encodeMessage(messageFor(job)))
    yield* delivery.ack
    return job
  })

const setJob = (job: ExportJob, next: ExportJob) =>
  Effect.flatMap(JobStore, (store) => store.update(next, job.revision))

const startedBy = (job: ExportJob, holder: string, at: DateTime.Utc, leaseUntil: DateTime.Utc) =>
  Either.getOrThrow(transition(job, Started.make({ at, lease: new Lease({ holder, expiresAt: leaseUntil }) })))

describe("the sweeper", () => {
  it.effect("fails a job left Queued past its deadline with nothing to deliver it, and tells its user once", () =>
    Effect.gen(function*() {
      const job = yield* orphanedJob()
      yield* TestClock.adjust(PAST_DEADLINE)

      expect(yield* sweepOverdueJobs()).toStrictEqual({ examined: 1, failed: 1 })
      const done = yield* storedJob(job.jobId)
      assert(done._tag === "Failed")
      expect(done.failure).toMatchObject({ reason: "Abandoned", retryable: true })
      expect(done.failure.userMessage).toContain("We could not start your export")
      expect([done.notifications.inApp, done.notifications.email]).toStrictEqual(["sent", "sent"])
      const { emails, inApp } = yield* sentTo(job.jobId)
      expect(inApp.map((n) => n.kind)).toStrictEqual(["export_failed"])
      expect(emails).toHaveLength(1)

      // The next sweep finds nothing in progress: nothing is sent twice.
      expect(yield* sweepOverdueJobs()).toStrictEqual({ examined: 0, failed: 0 })
      expect((yield* sentTo(job.jobId)).emails).toHaveLength(1)
    }).pipe(Effect.provide(testLayer(10, settings))))

  it.effect("leaves a job before its deadline, and a finished one, alone", () =>
    Effect.gen(function*() {
      const early = yield* orphanedJob()
      const finished = yield* orphanedJob(bob)
      const failure = abandonedFailure(finished)
      yield* setJob(
        finished,
        Either.getOrThrow(transition(finished, { _tag: "Failed", at: yield* DateTime.now, failure }))
      )
      yield* TestClock.adjust(DEADLINE)
      expect(yield* sweepOverdueJobs()).toStrictEqual({ examined: 0, failed: 0 })
      expect((yield* storedJob(early.jobId))._tag).toBe("Queued")
      expect((yield* sentTo(early.jobId)).emails).toHaveLength(0)

      // A millisecond later the queued one is overdue; the finished one is still not the sweeper's.
      yield* TestClock.adjust(Duration.millis(1))
      expect(yield* sweepOverdueJobs()).toStrictEqual({ examined: 1, failed: 1 })
      expect((yield* storedJob(finished.jobId)).revision).toBe(finished.revision + 1)
      expect((yield* sentTo(finished.jobId)).emails).toHaveLength(0)
    }).pipe(Effect.provide(testLayer(10, settings))))

  it.effect("never fails a job past its deadline while a worker holds its lease; fails it once the lease runs out", () =>
    Effect.gen(function*() {
      const job = yield* orphanedJob()
      yield* TestClock.adjust(PAST_DEADLINE)
      const now = yield* DateTime.now
      // A long export: its worker renews the lease; the last renewal holds it for another minute.
      const running = startedBy(job, "live-worker", now, DateTime.addDuration(now, Duration.minutes(1)))
      yield* setJob(job, running)
      yield* TestClock.adjust(Duration.seconds(30))

      expect(yield* sweepOverdueJobs()).toStrictEqual({ examined: 1, failed: 0 })
      expect((yield* storedJob(job.jobId))._tag).toBe("Running")
      expect((yield* sentTo(job.jobId)).emails).toHaveLength(0)

      // The worker died: its lease runs out and no delivery comes.
      yield* TestClock.adjust(Duration.minutes(1))
      expect(yield* sweepOverdueJobs()).toStrictEqual({ examined: 1, failed: 1 })
      const done = yield* storedJob(job.jobId)
      assert(done._tag === "Failed")
      expect(done.failure.userMessage).toContain("interrupted before it finished")
      expect((yield* sentTo(job.jobId)).emails).toHaveLength(1)
    }).pipe(Effect.provide(testLayer(10, settings))))

  it.effect("a message that arrives after the sweeper failed its job is acknowledged with nothing sent again", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      yield* TestClock.adjust(PAST_DEADLINE)
      expect(yield* sweepOverdueJobs()).toStrictEqual({ examined: 1, failed: 1 })

      const verdicts = yield* drainQueue
      expect(verdicts).toHaveLength(1)
      expect(verdicts[0]!._tag === "Ack" && verdicts[0]!.outcome._tag).toBe("AlreadyFinished")
      expect((yield* storedJob(job.jobId))._tag).toBe("Failed")
      const { emails, inApp } = yield* sentTo(job.jobId)
      expect([emails.length, inApp.length]).toStrictEqual([1, 1])
    }).pipe(Effect.provide(testLayer(10, settings))))

  it.effect("racing a late delivery over an overdue job: one of them decides, and the user is told once", () =>
    Effect.gen(function*() {
      const jobs = yield* Effect.forEach(
        [1, 2, 3, 4, 5, 6],
        (day) => requestExport(alice, ordersInput({ dateTo: `2024-03-${String(20 + day)}` }))
      )
      yield* TestClock.adjust(PAST_DEADLINE)
      const queue = yield* MemoryQueue
      const deliveries = jobs.map(
        () =>
          Effect.flatMap(
            queue.receive,
            (delivery) => handleDelivery(delivery.body, delivery).pipe(Effect.tap(() => delivery.ack))
          )
      )
      const racing = yield* Effect.fork(
        Effect.all([sweepOverdueJobs(), Effect.all(deliveries, { concurrency: "unbounded" })], {
          concurrency: "unbounded"
        })
      )
      yield* TestClock.adjust(Duration.minutes(10))
      const [swept] = yield* Fiber.join(racing)
      const failed = yield* Effect.forEach(jobs, (job) => storedJob(job.jobId)).pipe(
        Effect.map((done) => done.filter((job) => job._tag === "Failed").length)
      )
      expect(swept.failed).toBe(failed)

      for (const job of jobs) {
        const done = yield* storedJob(job.jobId)
        expect(["Succeeded", "Failed"]).toContain(done._tag)
        const { emails, inApp } = yield* sentTo(job.jobId)
        expect([emails.length, inApp.length]).toStrictEqual([1, 1])
        expect(emails[0]!.subject).toContain(done._tag === "Succeeded" ? "ready" : "failed")
      }
    }).pipe(Effect.provide(testLayer(10, settings))))

  it.effect("a new request for the same export is not answered with an overdue job, but starts afresh", () =>
    Effect.gen(function*() {
      const stuck = yield* orphanedJob()
      const sameBefore = yield* requestExport(alice, ordersInput())
      expect(sameBefore.jobId).toBe(stuck.jobId)

      yield* TestClock.adjust(PAST_DEADLINE)
      const afresh = yield* requestExport(alice, ordersInput())
      expect(afresh.jobId).not.toBe(stuck.jobId)
      expect(afresh._tag).toBe("Queued")
    }).pipe(Effect.provide(testLayer(10, settings))))

  it.effect("runs at start and then every interval for as long as its layer lives, each line with the job's id", () =>
    Effect.gen(function*() {
      const logs = makeLogCollector()
      const job = yield* orphanedJob()
      yield* Effect.scoped(
        Effect.gen(function*() {
          yield* Layer.buildWithScope(SweepOverdueJobs.layer(Duration.minutes(5)), yield* Effect.scope)
          yield* TestClock.adjust(Duration.minutes(5))
          expect((yield* storedJob(job.jobId))._tag).toBe("Queued")
          yield* TestClock.adjust(Duration.sum(DEADLINE, Duration.minutes(5)))
          expect((yield* storedJob(job.jobId))._tag).toBe("Failed")
        }).pipe(Effect.provide(logs.replacing))
      )
      const failing = logs.lines.filter((line) =>
        line.message[0] === "job is past its deadline and no worker holds it; failing it"
      )
      expect(failing).toHaveLength(1)
      expect(failing[0]!.annotations["jobId"]).toBe(job.jobId)
    }).pipe(Effect.provide(testLayer(10, settings))))
})

// The in-memory stores stay bounded: a finished job, its idempotency key and a notification are evicted once their
// retention (application/Retention.ts) is over, on the clock the stores run on; jobs in progress never are.
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Either, Layer, Option, Redacted, Schema, TestClock } from "effect"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import * as MemoryInAppNotifier from "../../../src/adapters/memory/MemoryInAppNotifier.js"
import { MemoryInbox } from "../../../src/adapters/memory/MemoryInAppNotifier.js"
import * as MemoryJobStore from "../../../src/adapters/memory/MemoryJobStore.js"
import { InAppNotification, InAppNotifier } from "../../../src/application/ports/InAppNotifier.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import {
  EXPIRY_SWEEP_INTERVAL,
  FINISHED_JOB_RETENTION,
  NOTIFICATION_RETENTION,
  SUCCEEDED_JOB_RETENTION
} from "../../../src/application/Retention.js"
import {
  Completed,
  ExportResult,
  Failed,
  JobFailure,
  Lease,
  newJob,
  objectKeyFor,
  Started,
  transition
} from "../../../src/domain/ExportJob.js"
import type { ExportJob, JobEvent } from "../../../src/domain/ExportJob.js"
import type { Owner } from "../../../src/domain/Identifiers.js"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import { ReportRequest } from "../../../src/domain/Reports.js"
import { jobIdAt, uniqueOwners } from "../../contracts/ContractSupport.js"

const HOUR = Duration.toMillis(Duration.hours(1))
const LINK_TTL = Duration.toMillis(Duration.hours(24))

const report = Schema.decodeUnknownSync(ReportRequest)({
  _tag: "orders",
  params: { dateFrom: "2024-01-01", dateTo: "2024-03-31" }
})

/** A job requested now, on the test clock. */
const requestedNow = (owner: Owner, idempotencyKey?: string) =>
  Effect.map(DateTime.now, (now) =>
    newJob({
      jobId: jobIdAt(DateTime.toEpochMillis(now)),
      owner,
      email: Redacted.make(EmailAddress.make(`${owner.userId}@example.com`)),
      report,
      format: "csv",
      requestedAt: now,
      idempotencyKey
    }))

/** Applies `event` to the stored job, with the time of the test clock when the event has `at`. */
const advance = (job: ExportJob, event: (at: DateTime.Utc) => JobEvent) =>
  Effect.gen(function*() {
    const next = Either.getOrThrow(transition(job, event(yield* DateTime.now)))
    yield* (yield* JobStore).update(next, job.revision)
    return next
  })

const failure = new JobFailure({ reason: "QueryFailed", userMessage: "no", retryable: false })

describe("MemoryJobStore eviction", () => {
  it.effect("evicts a finished job and its key once its retention is over, and never a job in progress", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const { alice } = uniqueOwners()
      // Sorted: the jobs are made in one millisecond, which their ids do not order.
      const jobIds = Effect.map(
        store.listByOwner(alice, { limit: 10, after: undefined }),
        (page) => page.jobs.map((job) => job.jobId).sort()
      )

      const succeeding = yield* requestedNow(alice, "daily")
      const failing = yield* requestedNow(alice, "weekly")
      const running = yield* requestedNow(alice)
      yield* Effect.forEach([succeeding, failing, running], (job) => store.create(job), { discard: true })
      const started = yield* advance(
        succeeding,
        (at) =>
          Started.make({ at, lease: new Lease({ holder: "worker-1", expiresAt: DateTime.add(at, { minutes: 1 }) }) })
      )
      yield* advance(started, (at) =>
        Completed.make({
          at,
          result: new ExportResult({
            objectKey: objectKeyFor({ ...succeeding, attempts: 1 }),
            rowCount: 1,
            byteSize: 10,
            sha256: "ab".repeat(32),
            linkExpiresAt: DateTime.unsafeMake(DateTime.toEpochMillis(at) + LINK_TTL)
          })
        }))
      yield* advance(failing, (at) => Failed.make({ at, failure }))
      yield* advance(
        running,
        (at) =>
          Started.make({ at, lease: new Lease({ holder: "worker-1", expiresAt: DateTime.add(at, { minutes: 1 }) }) })
      )

      // Just before the succeeded job's retention ends (its link's expiry plus SUCCEEDED_JOB_RETENTION): all kept.
      yield* TestClock.adjust(LINK_TTL + Duration.toMillis(SUCCEEDED_JOB_RETENTION) - 1)
      yield* store.create(yield* requestedNow(uniqueOwners().alice))
      expect(yield* jobIds).toHaveLength(3)

      // A create past it (and past one interval between sweeps) evicts it, its key with it.
      yield* TestClock.adjust(Duration.sum(EXPIRY_SWEEP_INTERVAL, Duration.millis(1)))
      yield* store.create(yield* requestedNow(uniqueOwners().alice))
      expect(Option.isNone(yield* store.get(succeeding.jobId))).toBe(true)
      expect(Option.isNone(yield* store.findByIdempotencyKey(alice, "daily"))).toBe(true)
      expect(yield* jobIds).toStrictEqual([running.jobId, failing.jobId].sort())

      // The failed job goes FINISHED_JOB_RETENTION after it finished; the running one stays.
      yield* TestClock.adjust(Duration.toMillis(FINISHED_JOB_RETENTION))
      yield* store.create(yield* requestedNow(uniqueOwners().alice))
      expect(Option.isNone(yield* store.findByIdempotencyKey(alice, "weekly"))).toBe(true)
      expect(yield* jobIds).toStrictEqual([running.jobId])
      expect(Option.getOrThrow(yield* store.get(running.jobId))._tag).toBe("Running")

      // The owner's key is free for a new job, which it then names.
      const again = yield* requestedNow(alice, "weekly")
      yield* store.create(again)
      expect(Option.map(yield* store.findByIdempotencyKey(alice, "weekly"), (job) => job.jobId))
        .toStrictEqual(Option.some(again.jobId))
    }).pipe(Effect.provide(MemoryJobStore.layer)))
})

describe("MemoryInbox eviction", () => {
  const notificationNow = (owner: Owner) =>
    Effect.map(DateTime.now, (now) => {
      const jobId = jobIdAt(DateTime.toEpochMillis(now))
      return new InAppNotification({
        id: `${jobId}:export_succeeded`,
        owner,
        jobId,
        kind: "export_succeeded",
        title: "Your export is ready",
        body: "ready",
        link: `/exports/${jobId}`,
        createdAt: now
      })
    })

  it.effect("evicts a notification, and its deliveries, once its retention is over", () =>
    Effect.gen(function*() {
      const notifier = yield* InAppNotifier
      const inbox = yield* MemoryInbox
      const { alice } = uniqueOwners()
      const old = yield* notificationNow(alice)
      yield* notifier.deliver(old)
      yield* notifier.deliver(old)
      yield* TestClock.adjust(Duration.toMillis(NOTIFICATION_RETENTION) - HOUR)
      const recent = yield* notificationNow(alice)
      yield* notifier.deliver(recent)
      expect((yield* notifier.listFor(alice)).map((n) => n.id)).toStrictEqual([recent.id, old.id])

      yield* TestClock.adjust(2 * HOUR)
      const newest = yield* notificationNow(alice)
      yield* notifier.deliver(newest)
      expect((yield* notifier.listFor(alice)).map((n) => n.id)).toStrictEqual([newest.id, recent.id])
      expect((yield* inbox.deliveries).map((n) => n.id)).toStrictEqual([recent.id, newest.id])
    }).pipe(
      Effect.provide(
        MemoryInAppNotifier.layer.pipe(Layer.provideMerge(MemoryInbox.Default), Layer.provide(FaultInjection.Default))
      )
    ))
})

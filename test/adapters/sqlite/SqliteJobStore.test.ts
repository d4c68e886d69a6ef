// What the SQLite store promises beyond the port contracts: a job is created with its queue message in one
// transaction (the outbox), so a process that dies between `create` and `publish` still runs the export; a row that
// no longer decodes is an outage, not a defect; and everything is still there after the database is closed and
// opened again.
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, DateTime, Effect, Either, Exit, Layer, Option } from "effect"
import { join } from "node:path"
import { MemoryOutbox } from "../../../src/adapters/memory/MemoryEmailSender.js"
import * as SqliteDatabase from "../../../src/adapters/sqlite/SqliteDatabase.js"
import * as SqliteJobQueue from "../../../src/adapters/sqlite/SqliteJobQueue.js"
import { InAppNotification, InAppNotifier } from "../../../src/application/ports/InAppNotifier.js"
import { encodeMessage, JobQueue } from "../../../src/application/ports/JobQueue.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import { messageFor, requestExport } from "../../../src/application/RequestExport.js"
import { ExportJob, Lease, LeaseReleased, Started, transition } from "../../../src/domain/ExportJob.js"
import type { JobEvent } from "../../../src/domain/ExportJob.js"
import { processDelivery } from "../../../src/runtimes/local/InProcessWorker.js"
import { expectSame, JOBS_BASE_MILLIS, queuedJobOf, uniqueOwners } from "../../contracts/ContractSupport.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"
import { alice, ordersInput, testLayer } from "../../support/Fixtures.js"
import { adaptersAt, openAdapters, receiveAllBodies } from "./SqliteSupport.js"

const BASE_MILLIS = JOBS_BASE_MILLIS

const after = (job: ExportJob, event: JobEvent): ExportJob => Either.getOrThrow(transition(job, event))

const withAdapters = <A, E>(
  test: Effect.Effect<A, E, JobStore | JobQueue | InAppNotifier | SqliteJobQueue.SqliteQueue>
) =>
  Effect.gen(function*() {
    const dir = yield* temporaryDataDir("ade-sqlite-")
    return yield* Effect.provide(test, adaptersAt(join(dir, SqliteDatabase.DATABASE_FILE)))
  }).pipe(Effect.scoped)

describe("SQLite JobStore: the outbox", () => {
  it.effect("a job created and never published is on the queue all the same, as the message publish would send", () =>
    withAdapters(Effect.gen(function*() {
      const store = yield* JobStore
      const job = queuedJobOf(uniqueOwners().alice)
      yield* store.create(job)
      // The process died here, before `publish`.
      const queue = yield* SqliteJobQueue.SqliteQueue
      const delivery = Option.getOrThrow(yield* queue.poll)
      expect(delivery.body).toBe(encodeMessage(messageFor(job)))
      expect(delivery.receiveCount).toBe(1)
      yield* delivery.ack
      expect(yield* queue.depth).toStrictEqual({ visible: 0, inFlight: 0, delayed: 0 })
    })))

  it.effect("publishing a created job's message, even twice, leaves one message", () =>
    withAdapters(Effect.gen(function*() {
      const store = yield* JobStore
      const queue = yield* JobQueue
      const job = queuedJobOf(uniqueOwners().alice)
      yield* store.create(job)
      yield* queue.publish(messageFor(job))
      yield* queue.publish(messageFor(job))
      expect(yield* receiveAllBodies).toStrictEqual([encodeMessage(messageFor(job))])
    })))

  it.effect("a create refused, by its id or its idempotency key, queues nothing", () =>
    withAdapters(Effect.gen(function*() {
      const store = yield* JobStore
      const { alice } = uniqueOwners()
      const first = queuedJobOf(alice, { idempotencyKey: "once" })
      yield* store.create(first)
      const sameKey = queuedJobOf(alice, { millis: BASE_MILLIS + 1_000, idempotencyKey: "once" })
      expect((yield* Effect.flip(store.create(sameKey)))._tag).toBe("JobConflict")
      expect((yield* Effect.flip(store.create(first)))._tag).toBe("JobConflict")
      expect(yield* receiveAllBodies).toStrictEqual([encodeMessage(messageFor(first))])
    })))

  it.effect("identical requests racing start one export, and the others are answered with it", () =>
    Effect.gen(function*() {
      const memory = yield* Layer.build(testLayer(20))
      const dir = yield* temporaryDataDir("ade-sqlite-")
      // Creates wait for the end of the turn to commit together (ADR 48): every request here has read the store
      // before the first job is written, so only a check made inside the create itself can see the others.
      const { answers, bodies, listed } = yield* Effect.gen(function*() {
        const answers = yield* Effect.all(Array.from({ length: 5 }, () => requestExport(alice, ordersInput())), {
          concurrency: "unbounded"
        })
        const listed = yield* Effect.flatMap(JobStore, (store) => store.listActive(alice.owner))
        return { answers, bodies: yield* receiveAllBodies, listed }
      }).pipe(Effect.provide(adaptersAt(join(dir, SqliteDatabase.DATABASE_FILE))), Effect.provide(memory))
      expect(listed).toHaveLength(1)
      expect(answers.map((job) => job.jobId)).toStrictEqual(answers.map(() => listed[0]!.jobId))
      expect(bodies).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.effect("a request whose process dies before publishing is run to the end by the next process, once", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const path = join(dir, SqliteDatabase.DATABASE_FILE)
      const rest = testLayer(20)
      const memory = yield* Layer.build(rest)

      // The first process: the job is recorded, then the process dies where it would publish.
      const first = yield* openAdapters(path)
      const crashing = Context.add(first.context, JobQueue, JobQueue.of({ publish: () => Effect.interrupt }))
      const interrupted = yield* Effect.exit(
        requestExport(alice, ordersInput()).pipe(Effect.provide(Context.merge(memory, crashing)))
      )
      expect(Exit.isInterrupted(interrupted)).toBe(true)
      yield* first.close

      // The next process finds the job queued, with its message, and runs it.
      const next = yield* openAdapters(path)
      const context = Context.merge(memory, next.context)
      const [job] = yield* Effect.flatMap(JobStore, (store) => store.listActive(alice.owner)).pipe(
        Effect.provide(context)
      )
      expect(job?._tag).toBe("Queued")
      const queue = Context.get(next.context, SqliteJobQueue.SqliteQueue)
      const delivery = Option.getOrThrow(yield* queue.poll)
      const verdict = yield* processDelivery(delivery).pipe(Effect.provide(context))
      expect(verdict._tag).toBe("Ack")
      expect(Option.isNone(yield* queue.poll)).toBe(true)
      const done = Option.getOrThrow(
        yield* Effect.flatMap(JobStore, (store) => store.get(job!.jobId)).pipe(
          Effect.provide(context)
        )
      )
      expect(done._tag).toBe("Succeeded")
      const emails = (yield* Context.get(memory, MemoryOutbox).outbox).filter((email) => email.jobId === job!.jobId)
      expect(emails).toHaveLength(1)
      const notices = yield* Effect.flatMap(InAppNotifier, (notifier) => notifier.listFor(alice.owner)).pipe(
        Effect.provide(context)
      )
      expect(notices.map((notice) => [notice.jobId, notice.kind])).toStrictEqual([[job!.jobId, "export_succeeded"]])
      yield* next.close
    }).pipe(Effect.scoped))
})

describe("SQLite JobStore", () => {
  it.effect("a row that no longer decodes is JobStoreUnavailable, not a defect", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const { context } = yield* openAdapters(join(dir, SqliteDatabase.DATABASE_FILE))
      const store = Context.get(context, JobStore)
      const job = queuedJobOf(uniqueOwners().alice)
      yield* store.create(job)
      const db = Context.get(context, SqliteDatabase.SqliteDatabase)
      db.prepare("UPDATE jobs SET job = '{\"_tag\":\"Queued\"}' WHERE job_id = ?").run(job.jobId)
      const error = yield* Effect.flip(store.get(job.jobId))
      expect(error._tag).toBe("JobStoreUnavailable")
      expect(error._tag === "JobStoreUnavailable" && error.detail).toContain(`undecodable job ${job.jobId}`)
    }).pipe(Effect.scoped))

  it.effect("jobs, their messages and notifications are all there after the database is closed and opened again", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const path = join(dir, SqliteDatabase.DATABASE_FILE)
      const { alice } = uniqueOwners()
      const queued = queuedJobOf(alice, { idempotencyKey: "kept" })
      const started = queuedJobOf(alice, { millis: BASE_MILLIS + 1_000 })
      const running = after(
        started,
        Started.make({
          at: DateTime.unsafeMake(BASE_MILLIS + 2_000),
          lease: new Lease({ holder: "worker-1", expiresAt: DateTime.unsafeMake(BASE_MILLIS + 62_000) })
        })
      )
      const notice = new InAppNotification({
        id: `${running.jobId}:export_succeeded`,
        owner: alice,
        jobId: running.jobId,
        kind: "export_succeeded",
        title: "Your export is ready",
        body: "Orders",
        link: `/exports/${running.jobId}`,
        createdAt: DateTime.unsafeMake(BASE_MILLIS + 3_000)
      })
      const readAt = DateTime.unsafeMake(BASE_MILLIS + 4_000)

      const first = yield* openAdapters(path)
      yield* Effect.gen(function*() {
        const store = yield* JobStore
        yield* store.create(queued)
        yield* store.create(started)
        yield* store.update(running, started.revision)
        const notifier = yield* InAppNotifier
        yield* notifier.deliver(notice)
        yield* notifier.markRead(alice, notice.id, readAt)
      }).pipe(Effect.provide(first.context))
      yield* first.close

      const second = yield* openAdapters(path)
      yield* Effect.gen(function*() {
        const store = yield* JobStore
        const page = yield* store.listByOwner(alice, { limit: 10, after: undefined })
        expect(page.jobs.map((job) => [job.jobId, job._tag])).toStrictEqual([
          [running.jobId, "Running"],
          [queued.jobId, "Queued"]
        ])
        // Its lease is released at start: the process that held it is gone, as only one process opens a database.
        const reopenedAt = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
        expectSame(ExportJob, page.jobs[0]!, after(running, LeaseReleased.make({ at: reopenedAt, holder: "worker-1" })))
        expect(Option.map(yield* store.findByIdempotencyKey(alice, "kept"), (job) => job.jobId))
          .toStrictEqual(Option.some(queued.jobId))
        const [listed] = yield* (yield* InAppNotifier).listFor(alice)
        expect(listed?.id).toBe(notice.id)
        expect(listed?.readAt === undefined ? undefined : DateTime.toEpochMillis(listed.readAt)).toBe(
          DateTime.toEpochMillis(readAt)
        )
        expect([...(yield* receiveAllBodies)].sort()).toStrictEqual(
          [encodeMessage(messageFor(queued)), encodeMessage(messageFor(running))].sort()
        )
      }).pipe(Effect.provide(second.context))
      yield* second.close
    }).pipe(Effect.scoped))
})

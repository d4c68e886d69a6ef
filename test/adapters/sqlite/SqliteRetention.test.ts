// What the SQLite adapters do with records past their retention beyond the port contracts (which check the hourly
// sweep): a server started after a retention ended deletes the record at start, rows written before the database
// recorded retention get theirs from their JSON, and dead letters go DEAD_LETTER_RETENTION after dead-lettering.
import { describe, expect, it } from "@effect/vitest"
import { Context, DateTime, Duration, Effect, Either, Exit, Layer, Option, Schema, Scope, TestClock } from "effect"
import { join } from "node:path"
import * as SqliteDatabase from "../../../src/adapters/sqlite/SqliteDatabase.js"
import * as SqliteJobQueue from "../../../src/adapters/sqlite/SqliteJobQueue.js"
import { requestKeyOf } from "../../../src/adapters/sqlite/SqliteJobStore.js"
import { MIGRATIONS } from "../../../src/adapters/sqlite/SqliteSchema.js"
import { InAppNotification, InAppNotifier } from "../../../src/application/ports/InAppNotifier.js"
import { JobQueue } from "../../../src/application/ports/JobQueue.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import { messageFor } from "../../../src/application/RequestExport.js"
import {
  DEAD_LETTER_RETENTION,
  EXPIRY_SWEEP_INTERVAL,
  jobRetainedUntil,
  notificationRetainedUntil
} from "../../../src/application/Retention.js"
import { ExportJob, Failed, JobFailure, transition } from "../../../src/domain/ExportJob.js"
import type { QueuedJob } from "../../../src/domain/ExportJob.js"
import { JOBS_BASE_MILLIS, queuedJobOf, uniqueOwners } from "../../contracts/ContractSupport.js"
import { notificationFor } from "../../contracts/InAppNotifierContract.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"
import { openAdapters } from "./SqliteSupport.js"

const BASE_MILLIS = JOBS_BASE_MILLIS
const DAY = Duration.toMillis(Duration.days(1))

const failedAt = (job: QueuedJob, millis: number) =>
  Either.getOrThrow(transition(
    job,
    Failed.make({
      at: DateTime.unsafeMake(millis),
      failure: new JobFailure({ reason: "QueryFailed", userMessage: "no", retryable: false })
    })
  ))

/** A fresh database file in a directory removed with the test's scope. */
const freshPath = Effect.map(temporaryDataDir("ade-sqlite-"), (dir) => join(dir, SqliteDatabase.DATABASE_FILE))

/** Runs `body` on the adapters opened on `path`, then closes them, as one run of the server. */
const runServer = <A, E>(
  path: string,
  body: Effect.Effect<A, E, JobStore | JobQueue | InAppNotifier | SqliteJobQueue.SqliteQueue>
) =>
  Effect.gen(function*() {
    const server = yield* openAdapters(path)
    const result = yield* Effect.provide(body, server.context)
    yield* server.close
    return result
  })

describe("SQLite retention", () => {
  it.scoped("a server started after a finished job's and a notification's retention ended deletes them at start", () =>
    Effect.gen(function*() {
      const path = yield* freshPath
      const { alice } = uniqueOwners()
      const finishing = queuedJobOf(alice)
      const waiting = queuedJobOf(alice, { millis: BASE_MILLIS + 1 })
      const failed = failedAt(finishing, BASE_MILLIS + 1_000)
      const notification = notificationFor(alice, BASE_MILLIS + 1_000)

      yield* TestClock.setTime(BASE_MILLIS)
      yield* runServer(
        path,
        Effect.gen(function*() {
          const store = yield* JobStore
          yield* store.create(finishing)
          yield* store.create(waiting)
          yield* store.update(failed, finishing.revision)
          yield* (yield* InAppNotifier).deliver(notification)
        })
      )

      // Stopped until both retentions are over; the clock does not move while the next server runs.
      yield* TestClock.setTime(Math.max(jobRetainedUntil(failed)!, notificationRetainedUntil(notification)))
      yield* runServer(
        path,
        Effect.gen(function*() {
          const store = yield* JobStore
          expect(Option.isNone(yield* store.get(failed.jobId))).toBe(true)
          expect(Option.map(yield* store.get(waiting.jobId), (job) => job._tag)).toStrictEqual(Option.some("Queued"))
          expect(yield* (yield* InAppNotifier).listFor(alice)).toStrictEqual([])
        })
      )
    }))

  it.scoped("rows written before the database recorded retention get theirs from their JSON, and expire by it", () =>
    Effect.gen(function*() {
      const path = yield* freshPath
      const { alice } = uniqueOwners()
      const waiting = queuedJobOf(alice)
      const failed = failedAt(queuedJobOf(alice, { millis: BASE_MILLIS + 1 }), BASE_MILLIS + 1_000)
      const notification = notificationFor(alice, BASE_MILLIS + 1_000)

      // Written by the version before retention: schema version 1, its columns only.
      const scope = yield* Scope.make()
      const v1 = Context.get(
        yield* Layer.buildWithScope(SqliteDatabase.layer({ path, migrations: MIGRATIONS.slice(0, 1) }), scope),
        SqliteDatabase.SqliteDatabase
      )
      const encodeJob = Schema.encodeSync(Schema.parseJson(ExportJob))
      const insertJob = v1.prepare(
        `INSERT INTO jobs (job_id, merchant_id, user_id, status, requested_at, revision, request_key, job)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
      )
      for (const job of [waiting, failed]) {
        insertJob.run(
          job.jobId,
          alice.merchantId,
          alice.userId,
          job._tag,
          job.requestedAt.epochMillis,
          job.revision,
          requestKeyOf(job),
          encodeJob(job)
        )
      }
      v1.prepare(
        "INSERT INTO notifications (id, merchant_id, user_id, created_at, notification) VALUES (?, ?, ?, ?, ?)"
      ).run(
        notification.id,
        alice.merchantId,
        alice.userId,
        notification.createdAt.epochMillis,
        Schema.encodeSync(Schema.parseJson(InAppNotification))(notification)
      )
      yield* Scope.close(scope, Exit.void)

      const failedUntil = jobRetainedUntil(failed)!
      yield* TestClock.setTime(failedUntil - 1)
      const server = yield* openAdapters(path)
      const db = Context.get(server.context, SqliteDatabase.SqliteDatabase)
      const retainedUntil = (table: "jobs" | "notifications", key: string, id: string) =>
        db.prepare(`SELECT retained_until FROM ${table} WHERE ${key} = ?`).get(id)?.["retained_until"]
      expect(retainedUntil("jobs", "job_id", waiting.jobId)).toBeNull()
      expect(retainedUntil("jobs", "job_id", failed.jobId)).toBe(failedUntil)
      expect(retainedUntil("notifications", "id", notification.id)).toBe(notificationRetainedUntil(notification))

      yield* Effect.gen(function*() {
        const store = yield* JobStore
        expect(Option.isSome(yield* store.get(failed.jobId))).toBe(true)
        yield* TestClock.adjust(EXPIRY_SWEEP_INTERVAL)
        expect(Option.isNone(yield* store.get(failed.jobId))).toBe(true)
        expect(Option.isSome(yield* store.get(waiting.jobId))).toBe(true)
        expect((yield* (yield* InAppNotifier).listFor(alice)).map((n) => n.id)).toStrictEqual([notification.id])
      }).pipe(Effect.provide(server.context))
      yield* server.close
    }))

  it.scoped("a dead letter is deleted DEAD_LETTER_RETENTION after it was dead-lettered, a newer one kept", () =>
    Effect.gen(function*() {
      const path = yield* freshPath
      const { alice } = uniqueOwners()
      const rejectOne = (job: QueuedJob) =>
        runServer(
          path,
          Effect.gen(function*() {
            yield* (yield* JobQueue).publish(messageFor(job))
            yield* Option.getOrThrow(yield* (yield* SqliteJobQueue.SqliteQueue).poll).reject
          })
        )
      const deadJobIds = runServer(
        path,
        Effect.map(
          Effect.flatMap(SqliteJobQueue.SqliteQueue, (queue) => queue.deadLetters),
          (dead) => dead.map((letter) => letter.jobId)
        )
      )
      const older = queuedJobOf(alice)
      const newer = queuedJobOf(alice, { millis: BASE_MILLIS + 1 })

      yield* TestClock.setTime(BASE_MILLIS)
      yield* rejectOne(older)
      yield* TestClock.setTime(BASE_MILLIS + DAY)
      yield* rejectOne(newer)

      const olderUntil = BASE_MILLIS + Duration.toMillis(DEAD_LETTER_RETENTION)
      yield* TestClock.setTime(olderUntil - 1)
      expect(yield* deadJobIds).toStrictEqual([older.jobId, newer.jobId])
      yield* TestClock.setTime(olderUntil)
      expect(yield* deadJobIds).toStrictEqual([newer.jobId])
    }))
})

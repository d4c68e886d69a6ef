// Export jobs in the embedded database: each job its schema's encoded JSON, with the columns the queries need beside
// it. Writes are conditional as in every store (a job is created once, an idempotency key claimed once a window, an
// update lands only on the revision it was computed from). Creating a job also puts its queue message in the same
// transaction, as an outbox (ADR 27): a process that dies after `create` has still queued the job. A finished job is
// deleted once its retention is over (application/Retention.ts), as DynamoDB's TTL deletes it.
import { Clock, DateTime, Effect, Either, Layer, Option, Schema } from "effect"
import { CurrentCatalogue } from "../../application/CurrentCatalogue.js"
import { messageEncoderOf } from "../../application/ports/JobQueue.js"
import type { JobPage } from "../../application/ports/JobStore.js"
import { holdsIdempotencyKey, inProgressAnswer, JobStore } from "../../application/ports/JobStore.js"
import { messageFor } from "../../application/RequestExport.js"
import { jobRetainedUntil } from "../../application/Retention.js"
import { ExportLimitReached, JobConflict, JobStoreUnavailable } from "../../domain/Errors.js"
import { ExportJob, IDEMPOTENCY_WINDOW_MILLIS, isLive, sameRequestAs, transition } from "../../domain/ExportJob.js"
import type { QueuedJob } from "../../domain/ExportJob.js"
import type { ExportJobId, Owner } from "../../domain/Identifiers.js"
import { firstExportJobIdAt } from "../../domain/Identifiers.js"
import { exportLimitReached } from "../../domain/TenantLimits.js"
import { failed, SqliteDatabase } from "./SqliteDatabase.js"
import type { SqliteError } from "./SqliteDatabase.js"
import { fillRetention, purgeExpired } from "./SqliteExpiry.js"
import { enqueue } from "./SqliteJobQueue.js"

const JobJson = Schema.parseJson(ExportJob)
// A typed job that does not encode is a bug, not an outage: it throws, and the effect dies.
const encodeJob = Schema.encodeSync(JobJson)
const decodeJob = Schema.decodeUnknownEither(JobJson)

/** The exports that are the same request share a key: `sameRequestAs` then decides among the few that do. */
export const requestKeyOf = ({ format, report }: Pick<ExportJob, "report" | "format">): string =>
  JSON.stringify([report._tag, format, report.params.dateFrom, report.params.dateTo])

/**
 * What a create's body decided: recorded (true), refused by the job's id or idempotency key (false), refused by a cap
 * or an undecodable row, or answered with the same export in progress.
 */
type CreateOutcome = boolean | ExportLimitReached | JobStoreUnavailable | ExportJob

type CreateRefusal = JobConflict | ExportLimitReached | JobStoreUnavailable

const unavailable = (error: SqliteError) => new JobStoreUnavailable({ detail: `SQLite ${error.message}` })

type Row = Record<string, unknown>

/** The rows' jobs, or the first row that does not decode as the store's failure. */
const decodeRows = (rows: ReadonlyArray<Row>): Either.Either<Array<ExportJob>, JobStoreUnavailable> => {
  const jobs: Array<ExportJob> = []
  for (const row of rows) {
    const decoded = decodeJob(row["job"])
    if (Either.isLeft(decoded)) {
      return Either.left(
        new JobStoreUnavailable({ detail: `undecodable job ${String(row["job_id"])}: ${decoded.left.message}` })
      )
    }
    jobs.push(decoded.right)
  }
  return Either.right(jobs)
}

const jobsOf = (rows: ReadonlyArray<Row>) =>
  Either.match(decodeRows(rows), { onLeft: Effect.fail, onRight: Effect.succeed })

/**
 * A read and its rows' decoding in one synchronous step: the reads on the accept path (the same export in progress,
 * an idempotency key's job) run for every request, and each step of an effect costs it allocation (ADR 54).
 */
const readJobs = (operation: string, read: () => ReadonlyArray<Row>) =>
  Effect.suspend(() => {
    let rows: ReadonlyArray<Row>
    try {
      rows = read()
    } catch (error) {
      return Effect.fail(unavailable(failed(operation)(error)))
    }
    return jobsOf(rows)
  })

export const make = Effect.gen(function*() {
  const db = yield* SqliteDatabase
  const encodeMessage = messageEncoderOf(yield* CurrentCatalogue)

  const exists = db.prepare("SELECT 1 FROM jobs WHERE job_id = ?")
  const lastWithKey = db.prepare(
    `SELECT requested_at, job FROM jobs WHERE merchant_id = ? AND user_id = ? AND idempotency_key = ?
     ORDER BY requested_at DESC, job_id DESC LIMIT 1`
  )
  const insert = db.prepare(
    `INSERT INTO jobs (job_id, merchant_id, user_id, status, requested_at, revision, idempotency_key, request_key, job)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
  )
  // Both counted from the partial index of the jobs in progress (jobs_active_by_request), inside the create's
  // transaction: one process holds the database and its writes are serialised, so the count cannot go stale.
  const activeOfUser = db.prepare(
    "SELECT COUNT(*) AS n FROM jobs WHERE merchant_id = ? AND user_id = ? AND status IN ('Queued', 'Running')"
  )
  const activeOfMerchant = db.prepare(
    "SELECT COUNT(*) AS n FROM jobs WHERE merchant_id = ? AND status IN ('Queued', 'Running')"
  )
  const byKey = db.prepare(
    `SELECT job_id, job FROM jobs WHERE merchant_id = ? AND user_id = ? AND idempotency_key = ?
     ORDER BY requested_at DESC, job_id DESC LIMIT 1`
  )
  const active = db.prepare(
    `SELECT job_id, job FROM jobs WHERE merchant_id = ? AND user_id = ? AND status IN ('Queued', 'Running')
     ORDER BY job_id DESC`
  )
  const activeForRequest = db.prepare(
    `SELECT job_id, job FROM jobs
     WHERE merchant_id = ? AND user_id = ? AND request_key = ? AND status IN ('Queued', 'Running')
     ORDER BY job_id DESC`
  )
  // Answered from the partial index of the jobs in progress (jobs_active_by_request), not the history.
  const activeCreatedBefore = db.prepare(
    `SELECT job_id, job FROM jobs WHERE status IN ('Queued', 'Running') AND job_id > ? AND job_id < ?
     ORDER BY job_id LIMIT ?`
  )
  const byId = db.prepare("SELECT job_id, job FROM jobs WHERE job_id = ?")
  const update = db.prepare(
    "UPDATE jobs SET status = ?, revision = ?, retained_until = ?, job = ? WHERE job_id = ? AND revision = ?"
  )
  const firstPage = db.prepare(
    "SELECT job_id, job FROM jobs WHERE merchant_id = ? AND user_id = ? ORDER BY job_id DESC LIMIT ?"
  )
  const pageAfter = db.prepare(
    "SELECT job_id, job FROM jobs WHERE merchant_id = ? AND user_id = ? AND job_id < ? ORDER BY job_id DESC LIMIT ?"
  )

  /** The owner's newest job in progress that is the same export as `job`, read inside its create's transaction. */
  const newestSameExport = (job: QueuedJob): ExportJob | undefined | JobStoreUnavailable => {
    const decoded = decodeRows(activeForRequest.all(job.owner.merchantId, job.owner.userId, requestKeyOf(job)))
    return Either.isLeft(decoded) ? decoded.left : decoded.right.find(sameRequestAs(job))
  }

  const listActive = (owner: Owner) =>
    db.use("JobStore.listActive", () => active.all(owner.merchantId, owner.userId)).pipe(
      Effect.catchTag("SqliteError", (error) => Effect.fail(unavailable(error))),
      Effect.flatMap(jobsOf)
    )

  const store = JobStore.of({
    // No span of its own: on the embedded server the create is nearly all of `Exports.request` (the command's
    // decoding and the publish are microseconds), which times it, and a span is ~20 KiB on every accepted export
    // (ADR 54). The stores over a network (DynamoDB) keep theirs.
    create: (job, checks) =>
      Effect.clockWith((clock) => {
        const json = encodeJob(job)
        const body = encodeMessage(messageFor(job))
        const now = clock.unsafeCurrentTimeMillis()
        const key = job.idempotencyKey
        const deadline = checks?.inProgressDeadline
        const limits = checks?.limits
        // Committed with the other creates of this turn of the event loop (ADR 48); the checks below read the writes
        // of those before it in the group, so the same export in progress, the caps and the idempotency key hold as in
        // a transaction of its own.
        return db.groupTransaction("JobStore.create", (): CreateOutcome => {
          if (exists.get(job.jobId) !== undefined) return false
          if (key !== undefined) {
            const last = lastWithKey.get(job.owner.merchantId, job.owner.userId, key)
            // The key's newest job holds it within the window, unless it gave it up (JobStore's holdsIdempotencyKey).
            if (
              last !== undefined &&
              job.requestedAt.epochMillis - Number(last["requested_at"]) < IDEMPOTENCY_WINDOW_MILLIS &&
              !Either.match(decodeJob(last["job"]), {
                onLeft: () => false,
                onRight: (prior) => !holdsIdempotencyKey(prior)
              })
            ) return false
          }
          if (deadline !== undefined) {
            const newest = newestSameExport(job)
            if (newest instanceof JobStoreUnavailable) return newest
            const answer = inProgressAnswer(newest, job, deadline)
            if (Option.isSome(answer)) return answer.value
          }
          if (limits !== undefined) {
            const { merchantId, userId } = job.owner
            const refused = exportLimitReached({
              user: Number(activeOfUser.get(merchantId, userId)!["n"]),
              merchant: Number(activeOfMerchant.get(merchantId)!["n"])
            }, limits)
            if (Option.isSome(refused)) return refused.value
          }
          insert.run(
            job.jobId,
            job.owner.merchantId,
            job.owner.userId,
            job._tag,
            job.requestedAt.epochMillis,
            job.revision,
            key ?? null,
            requestKeyOf(job),
            json
          )
          // The outbox: the job's message, in the job's own transaction.
          enqueue(db, job.jobId, body, now)
          return true
        }).pipe(
          Effect.matchEffect({
            onFailure: (error) => Effect.fail(unavailable(error)),
            onSuccess: (outcome): Effect.Effect<Option.Option<ExportJob>, CreateRefusal> => {
              if (outcome === true) return Effect.succeedNone
              if (outcome === false) return Effect.fail(new JobConflict({ jobId: job.jobId, expectedRevision: -1 }))
              if (outcome instanceof ExportLimitReached || outcome instanceof JobStoreUnavailable) {
                return Effect.fail(outcome)
              }
              return Effect.succeed(Option.some(outcome))
            }
          })
        )
      }),

    findByIdempotencyKey: (owner, key) =>
      Effect.map(
        readJobs("JobStore.findByIdempotencyKey", () => byKey.all(owner.merchantId, owner.userId, key)),
        (jobs) => Option.fromNullable(jobs[0])
      ),

    listActive,

    listActiveCreatedBefore: (before, limit, after) =>
      db.use(
        "JobStore.listActiveCreatedBefore",
        // Every id sorts above the empty string.
        () => activeCreatedBefore.all(after ?? "", firstExportJobIdAt(before.epochMillis), Math.max(0, limit))
      ).pipe(
        Effect.catchTag("SqliteError", (error) => Effect.fail(unavailable(error))),
        Effect.flatMap(jobsOf)
      ),

    get: (jobId) =>
      db.use("JobStore.get", () => byId.all(jobId)).pipe(
        Effect.catchTag("SqliteError", (error) => Effect.fail(unavailable(error))),
        Effect.flatMap(jobsOf),
        Effect.map((jobs) => Option.fromNullable(jobs[0]))
      ),

    update: (next, expectedRevision) =>
      Effect.gen(function*() {
        const json = encodeJob(next)
        const changes = yield* db.use(
          "JobStore.update",
          () =>
            Number(
              update.run(next._tag, next.revision, jobRetainedUntil(next) ?? null, json, next.jobId, expectedRevision)
                .changes
            )
        )
        // No row changed: the job is not there, or not at the revision this change was computed from.
        if (changes === 0) return yield* new JobConflict({ jobId: next.jobId, expectedRevision })
      }).pipe(
        Effect.catchTag("SqliteError", (error) => Effect.fail(unavailable(error))),
        Effect.withSpan("JobStore.update", { captureStackTrace: false })
      ),

    listByOwner: (owner, page) =>
      Effect.gen(function*() {
        if (page.limit < 1) return { jobs: [], continueAfter: undefined } satisfies JobPage
        const after: ExportJobId | undefined = page.after
        // One more than the page, to know whether another page follows.
        const rows = yield* db.use("JobStore.listByOwner", () =>
          after === undefined
            ? firstPage.all(owner.merchantId, owner.userId, page.limit + 1)
            : pageAfter.all(owner.merchantId, owner.userId, after, page.limit + 1)).pipe(
            Effect.catchTag("SqliteError", (error) => Effect.fail(unavailable(error)))
          )
        const jobs = yield* jobsOf(rows.slice(0, page.limit))
        return {
          jobs,
          continueAfter: rows.length > page.limit ? jobs[jobs.length - 1]?.jobId : undefined
        } satisfies JobPage
      })
  })
  yield* releaseOrphanedLeases(store, db)
  yield* expireFinishedJobs(db)
  return store
})

/**
 * Only one process holds this database (SqliteDatabase locks it), so the lease of a job still Running was taken by a
 * process that is gone. It is released at start, so that the job's message, handed out again at once
 * (SqliteJobQueue), takes the job over now rather than when the dead holder's lease would have run out (ADR 28).
 */
const releaseOrphanedLeases = (store: JobStore["Type"], db: SqliteDatabase["Type"]) =>
  Effect.gen(function*() {
    const at = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
    const rows = yield* db.use("JobStore.start", () =>
      db.prepare("SELECT job_id, job FROM jobs WHERE status = 'Running'").all() as ReadonlyArray<Row>).pipe(
        Effect.catchTag("SqliteError", (error) =>
          Effect.fail(unavailable(error)))
      )
    let released = 0
    for (const job of yield* jobsOf(rows)) {
      if (job._tag !== "Running" || job.lease === undefined || !isLive(job.lease, at)) continue
      const next = transition(job, { _tag: "LeaseReleased", at, holder: job.lease.holder })
      if (Either.isRight(next)) {
        yield* store.update(next.right, job.revision)
        released++
      }
    }
    if (released > 0) yield* Effect.logInfo("leases held by the previous process are released", { jobs: released })
  })

/** Deletes finished jobs past their retention, at start and every sweep interval; a job in progress has none. */
const expireFinishedJobs = (db: SqliteDatabase["Type"]) =>
  Effect.gen(function*() {
    yield* fillRetention(db, "JobStore.fillRetention", {
      select: `SELECT job_id AS id, job AS record FROM jobs
               WHERE retained_until IS NULL AND status NOT IN ('Queued', 'Running')`,
      update: "UPDATE jobs SET retained_until = ? WHERE job_id = ?"
    }, (record) => Either.match(decodeJob(record), { onLeft: () => undefined, onRight: jobRetainedUntil })).pipe(
      Effect.catchTag("SqliteError", (error) => Effect.fail(unavailable(error)))
    )
    const deleteExpired = db.prepare("DELETE FROM jobs WHERE retained_until <= ?")
    yield* purgeExpired(db, "JobStore.expire", (now) => Number(deleteExpired.run(now).changes))
  })

/**
 * The JobStore on the database in context; its jobs' messages go to the same database's queue (SqliteJobQueue). It
 * deletes expired jobs for as long as it lives.
 */
export const layer = Layer.scoped(JobStore, make)

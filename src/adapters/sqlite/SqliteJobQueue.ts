// The export queue in the embedded database, with the delivery semantics of SQS: a received message is hidden for a
// visibility timeout (renewed while its worker holds it), deleted when acknowledged, handed out again after a
// backoff when retried, and moved to the dead letters once received too often. One message per job: the job store
// writes it with the job, in the same transaction (ADR 27), and publishing it again changes nothing.
import { Clock, Context, Deferred, Duration, Effect, Fiber, FiberId, Layer, Option } from "effect"
import type { Scope } from "effect"
import { CurrentCatalogue } from "../../application/CurrentCatalogue.js"
import { DeliverySource } from "../../application/ports/DeliverySource.js"
import type { QueueDelivery } from "../../application/ports/DeliverySource.js"
import { JobQueue, messageEncoderOf } from "../../application/ports/JobQueue.js"
import { DEFAULT_QUEUE_BACKOFF, retryDelay } from "../../application/QueueBackoff.js"
import type { QueueBackoff } from "../../application/QueueBackoff.js"
import { DEAD_LETTER_RETENTION } from "../../application/Retention.js"
import { QueueUnavailable } from "../../domain/Errors.js"
import { failed, SqliteDatabase } from "./SqliteDatabase.js"
import type { SqliteDatabaseService, SqliteError } from "./SqliteDatabase.js"
import { purgeExpired } from "./SqliteExpiry.js"

export interface SqliteJobQueueOptions {
  /** How long a received message is hidden from other receives; renewed every third of it while a worker holds it. */
  readonly visibility: Duration.Duration
  /** A message already received this many times goes to the dead letters on its next receive, not to a worker. */
  readonly maxReceives: number
  /** The wait between a retry and the next receive (application/QueueBackoff.ts). */
  readonly backoff: QueueBackoff
  /** How often an idle worker looks for messages whose delay ran out (a publish wakes it at once). */
  readonly pollInterval: Duration.Duration
}

/**
 * A message gets ten receives: more than EXPORT_MAX_ATTEMPTS allows (at most 10, 3 by default), so that a job whose
 * starts keep dying is failed, and its user told, by the application before its message is dead-lettered.
 */
export const defaults: SqliteJobQueueOptions = {
  visibility: Duration.minutes(1),
  maxReceives: 10,
  backoff: DEFAULT_QUEUE_BACKOFF,
  pollInterval: Duration.millis(250)
}

export interface DeadLetter {
  readonly jobId: string
  readonly body: string
  readonly receiveCount: number
  readonly reason: string
  readonly deadAt: number
}

export interface QueueDepth {
  /** Waiting to be received now. */
  readonly visible: number
  /** Held by a worker. */
  readonly inFlight: number
  /** Retried, waiting for their backoff to run out. */
  readonly delayed: number
}

/** The queue itself, beyond the JobQueue port: what the workers receive from, and what tests look at. */
export class SqliteQueue extends Context.Tag("exports/sqlite/SqliteQueue")<SqliteQueue, {
  /** Waits for the next message. */
  readonly receive: Effect.Effect<QueueDelivery>
  /** The next message if one is visible now. */
  readonly poll: Effect.Effect<Option.Option<QueueDelivery>>
  readonly deadLetters: Effect.Effect<ReadonlyArray<DeadLetter>, SqliteError>
  readonly depth: Effect.Effect<QueueDepth, SqliteError>
}>() {}

const INSERT_MESSAGE = "INSERT OR IGNORE INTO messages (job_id, body, published_at, visible_at) VALUES (?, ?, ?, ?)"

/**
 * Puts `jobId`'s message on the queue unless it has one, inside the caller's transaction: the outbox step of
 * `SqliteJobStore.create`, and `publish`. True when it was not there yet.
 */
export const enqueue = (db: SqliteDatabaseService, jobId: string, body: string, nowMillis: number): boolean =>
  Number(db.prepare(INSERT_MESSAGE).run(jobId, body, nowMillis, nowMillis).changes) > 0

interface Received {
  readonly jobId: string
  readonly body: string
  readonly receiveCount: number
}

export const make = (
  options: SqliteJobQueueOptions = defaults
): Effect.Effect<Context.Context<JobQueue | SqliteQueue | DeliverySource>, SqliteError, SqliteDatabase | Scope.Scope> =>
  Effect.gen(function*() {
    const db = yield* SqliteDatabase
    const scope = yield* Effect.scope
    const encode = messageEncoderOf(yield* CurrentCatalogue)
    const visibilityMillis = Duration.toMillis(options.visibility)

    const nextVisible = db.prepare(
      "SELECT job_id, body, receive_count FROM messages WHERE visible_at <= ? ORDER BY visible_at, job_id LIMIT 1"
    )
    const claim = db.prepare(
      "UPDATE messages SET receive_count = receive_count + 1, in_flight = 1, visible_at = ? WHERE job_id = ?"
    )
    const extend = db.prepare(
      "UPDATE messages SET visible_at = ? WHERE job_id = ? AND receive_count = ? AND in_flight = 1"
    )
    const deleteHeld = db.prepare("DELETE FROM messages WHERE job_id = ? AND receive_count = ?")
    const putBack = db.prepare(
      "UPDATE messages SET in_flight = 0, visible_at = ? WHERE job_id = ? AND receive_count = ?"
    )
    const insertDeadLetter = db.prepare(
      "INSERT INTO dead_letters (job_id, body, receive_count, reason, dead_at) VALUES (?, ?, ?, ?, ?)"
    )
    const deleteMessage = db.prepare("DELETE FROM messages WHERE job_id = ?")
    const listDeadLetters = db.prepare(
      "SELECT job_id, body, receive_count, reason, dead_at FROM dead_letters ORDER BY id"
    )
    const countByState = db.prepare(
      `SELECT
         coalesce(sum(in_flight = 0 AND visible_at <= ?), 0) AS visible,
         coalesce(sum(in_flight = 1), 0) AS in_flight,
         coalesce(sum(in_flight = 0 AND visible_at > ?), 0) AS delayed
       FROM messages`
    )

    // Only one process holds this database (SqliteDatabase locks it), so a message still in flight was held by a
    // process that died or was stopped before it could put it back: it is handed out again at once.
    const restartedAt = yield* Clock.currentTimeMillis
    const released = yield* db.transaction("JobQueue.start", () =>
      Number(
        db.prepare("UPDATE messages SET in_flight = 0, visible_at = ? WHERE in_flight = 1").run(restartedAt).changes
      ))
    if (released > 0) {
      yield* Effect.logInfo("messages held by the previous process are visible again", { messages: released })
    }

    // A dead letter is kept as long as SQS's dead-letter queue keeps one; it was logged when it was dead-lettered.
    const deleteOldDeadLetters = db.prepare("DELETE FROM dead_letters WHERE dead_at <= ?")
    yield* purgeExpired(
      db,
      "JobQueue.expireDeadLetters",
      (now) => Number(deleteOldDeadLetters.run(now - Duration.toMillis(DEAD_LETTER_RETENTION)).changes)
    )

    // Publishing wakes the idle workers at once; without it they look again every pollInterval. A plain variable
    // swapped in one synchronous step, not a Ref: every accepted export publishes, and each effect step costs it
    // (ADR 54).
    let wakeUp = Deferred.unsafeMake<void>(FiberId.none)
    const wakeNow = (): void => {
      const current = wakeUp
      wakeUp = Deferred.unsafeMake<void>(FiberId.none)
      Deferred.unsafeDone(current, Effect.void)
    }

    const deadLetter = (message: Received, reason: string, nowMillis: number) => {
      insertDeadLetter.run(message.jobId, message.body, message.receiveCount, reason, nowMillis)
      deleteMessage.run(message.jobId)
    }

    /** Claims the next visible message, dead-lettering on the way those received too often. */
    const take = (nowMillis: number) =>
      db.transaction("JobQueue.receive", () => {
        const dead: Array<Received> = []
        while (true) {
          const row = nextVisible.get(nowMillis)
          if (row === undefined) return { received: undefined, dead }
          const message: Received = {
            jobId: String(row["job_id"]),
            body: String(row["body"]),
            receiveCount: Number(row["receive_count"])
          }
          if (message.receiveCount >= options.maxReceives) {
            deadLetter(message, `received ${message.receiveCount} times without being settled`, nowMillis)
            dead.push(message)
            continue
          }
          claim.run(nowMillis + visibilityMillis, message.jobId)
          return { received: { ...message, receiveCount: message.receiveCount + 1 }, dead }
        }
      })

    /** A settling step on the message as this receive holds it; a message taken over since is left alone. */
    const settleWith = (
      message: Received,
      heartbeat: Fiber.RuntimeFiber<unknown>,
      operation: string,
      step: () => void
    ) =>
      Fiber.interrupt(heartbeat).pipe(
        Effect.zipRight(db.transaction(operation, step)),
        Effect.catchTag("SqliteError", (error) =>
          Effect.logWarning("could not settle a message; it comes back after its visibility", {
            detail: error.message
          })),
        Effect.annotateLogs({ jobId: message.jobId, receiveCount: message.receiveCount })
      )

    const deliveryOf = (message: Received, heartbeat: Fiber.RuntimeFiber<unknown>): QueueDelivery => {
      const { jobId, receiveCount } = message
      const visibleAfter = (delay: Duration.Duration) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          settleWith(message, heartbeat, "JobQueue.retry", () => {
            putBack.run(now + Duration.toMillis(delay), jobId, receiveCount)
          }))
      return {
        body: message.body,
        receiveCount,
        maxReceives: options.maxReceives,
        ack: settleWith(message, heartbeat, "JobQueue.ack", () => {
          deleteHeld.run(jobId, receiveCount)
        }),
        retry: visibleAfter(retryDelay(options.backoff, receiveCount)),
        release: visibleAfter(Duration.zero),
        reject: Effect.flatMap(
          Clock.currentTimeMillis,
          (now) =>
            settleWith(message, heartbeat, "JobQueue.reject", () => {
              if (Number(deleteHeld.run(jobId, receiveCount).changes) > 0) {
                insertDeadLetter.run(jobId, message.body, receiveCount, "rejected by the worker", now)
              }
            }).pipe(
              Effect.zipRight(
                Effect.logError("message rejected; moved to the dead letters").pipe(Effect.annotateLogs({ jobId }))
              )
            )
        )
      }
    }

    /** Keeps a held message hidden for as long as its worker runs, whatever the export's length. */
    const heartbeatOf = (message: Received) =>
      Effect.sleep(Duration.millis(visibilityMillis / 3)).pipe(
        Effect.zipRight(Clock.currentTimeMillis),
        Effect.flatMap((now) =>
          db.use("JobQueue.extendVisibility", () => {
            extend.run(now + visibilityMillis, message.jobId, message.receiveCount)
          })
        ),
        Effect.catchTag("SqliteError", (error) =>
          Effect.logWarning("could not extend a message's visibility", { detail: error.message })),
        Effect.forever,
        Effect.annotateLogs({ jobId: message.jobId })
      )

    const poll: Effect.Effect<Option.Option<QueueDelivery>> = Effect.uninterruptible(Effect.gen(function*() {
      const { dead, received } = yield* take(yield* Clock.currentTimeMillis)
      for (const message of dead) {
        yield* Effect.logError("message received too many times; moved to the dead letters", {
          receiveCount: message.receiveCount
        }).pipe(Effect.annotateLogs({ jobId: message.jobId }))
      }
      if (received === undefined) return Option.none()
      // Forked from an uninterruptible region, whose status a child inherits: settling must be able to stop it.
      const heartbeat = yield* Effect.forkIn(Effect.interruptible(heartbeatOf(received)), scope)
      return Option.some(deliveryOf(received, heartbeat))
    })).pipe(
      Effect.catchTag(
        "SqliteError",
        (error) =>
          Effect.logWarning("could not receive from the queue; trying again", { detail: error.message }).pipe(
            Effect.as(Option.none())
          )
      )
    )

    const receive: Effect.Effect<QueueDelivery> = Effect.gen(function*() {
      while (true) {
        const woken = wakeUp
        const next = yield* poll
        if (Option.isSome(next)) return next.value
        yield* Effect.raceFirst(Deferred.await(woken), Effect.sleep(options.pollInterval))
      }
    })

    // A job created by SqliteJobStore already has its message (the outbox): that publish, on every accepted export,
    // is a read, not a write transaction of its own (ADR 48).
    const hasMessage = db.prepare("SELECT 1 FROM messages WHERE job_id = ?")
    // The body is encoded only when it is to be written: not for a job that has its message already. An encoding
    // that throws is a bug, and stays a defect rather than the queue's failure.
    const refused = (error: unknown) =>
      Effect.fail(new QueueUnavailable({ detail: failed("JobQueue.publish")(error).message }))
    // One synchronous step: the read, the write when there is one, and the wake-up.
    const publish = (jobId: string, body: () => string) =>
      Effect.clockWith((clock) => {
        let queued: boolean
        try {
          queued = hasMessage.get(jobId) !== undefined
        } catch (error) {
          return refused(error)
        }
        if (!queued) {
          const text = body()
          try {
            enqueue(db, jobId, text, clock.unsafeCurrentTimeMillis())
          } catch (error) {
            return refused(error)
          }
        }
        wakeNow()
        return Effect.void
      })

    const handle = SqliteQueue.of({
      receive,
      poll,
      deadLetters: db.use("JobQueue.deadLetters", () =>
        listDeadLetters.all().map((row): DeadLetter => ({
          jobId: String(row["job_id"]),
          body: String(row["body"]),
          receiveCount: Number(row["receive_count"]),
          reason: String(row["reason"]),
          deadAt: Number(row["dead_at"])
        }))),
      depth: Effect.flatMap(Clock.currentTimeMillis, (now) =>
        db.use("JobQueue.depth", () => {
          const row = countByState.get(now, now)
          return {
            visible: Number(row?.["visible"] ?? 0),
            inFlight: Number(row?.["in_flight"] ?? 0),
            delayed: Number(row?.["delayed"] ?? 0)
          }
        }))
    })

    return Context.make(JobQueue, JobQueue.of({ publish: (message) => publish(message.jobId, () => encode(message)) }))
      .pipe(
        Context.add(SqliteQueue, handle),
        Context.add(DeliverySource, DeliverySource.of({ receive }))
      )
  })

/**
 * The JobQueue, the queue's handle and the workers' DeliverySource, on the database in context. Building it makes
 * every message a previous process held visible again.
 */
export const layer = (options: Partial<SqliteJobQueueOptions> = {}) =>
  Layer.scopedContext(make({ ...defaults, ...options }))

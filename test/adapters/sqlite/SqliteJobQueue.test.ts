// The SQLite queue's delivery semantics, on the test clock: a received message is hidden while its worker holds it
// (however long), acknowledged messages are gone, retries come back after a doubling, capped backoff, a message
// received too often or rejected goes to the dead letters (and is logged), and a message the previous process held
// is handed out again as soon as the next one starts, told as a redelivery.
import { describe, expect, it } from "@effect/vitest"
import { Context, DateTime, Duration, Effect, Exit, Layer, Option, Redacted, Schema, Scope, TestClock } from "effect"
import { join } from "node:path"
import * as SqliteDatabase from "../../../src/adapters/sqlite/SqliteDatabase.js"
import * as SqliteJobQueue from "../../../src/adapters/sqlite/SqliteJobQueue.js"
import { encodeMessage, JobQueue } from "../../../src/application/ports/JobQueue.js"
import { messageFor } from "../../../src/application/RequestExport.js"
import { newJob } from "../../../src/domain/ExportJob.js"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import { ReportRequest } from "../../../src/domain/Reports.js"
import { jobIdAt, uniqueOwners } from "../../contracts/ContractSupport.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"
import { makeLogCollector } from "../../support/LogCollector.js"

const OPTIONS: SqliteJobQueue.SqliteJobQueueOptions = {
  visibility: Duration.seconds(30),
  maxReceives: 3,
  backoff: { first: Duration.seconds(1), cap: Duration.seconds(3) },
  pollInterval: Duration.millis(100)
}

const messageAt = (millis: number) => {
  const owner = uniqueOwners().alice
  return messageFor(newJob({
    jobId: jobIdAt(millis),
    owner,
    email: Redacted.make(EmailAddress.make("queue@example.com")),
    report: Schema.decodeUnknownSync(ReportRequest)({
      _tag: "orders",
      params: { dateFrom: "2024-01-01", dateTo: "2024-03-31" }
    }),
    format: "csv",
    requestedAt: DateTime.unsafeMake(millis)
  }))
}

/** The queue on the database at `path`, for as long as the returned scope is open. */
const openQueue = (path: string, options = OPTIONS) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      SqliteJobQueue.layer(options).pipe(Layer.provide(SqliteDatabase.layer({ path }))),
      scope
    )
    return {
      publisher: Context.get(context, JobQueue),
      queue: Context.get(context, SqliteJobQueue.SqliteQueue),
      close: Scope.close(scope, Exit.void)
    }
  })

const freshQueue = (options = OPTIONS) =>
  Effect.flatMap(
    temporaryDataDir("ade-sqlite-"),
    (dir) => openQueue(join(dir, SqliteDatabase.DATABASE_FILE), options)
  )

describe("SQLite queue", () => {
  it.scoped("a received message is hidden while its worker holds it, however long, and gone once acknowledged", () =>
    Effect.gen(function*() {
      const { publisher, queue } = yield* freshQueue()
      const message = messageAt(Date.parse("2024-05-01T10:00:00Z"))
      yield* publisher.publish(message)
      const delivery = Option.getOrThrow(yield* queue.poll)
      expect(delivery.body).toBe(encodeMessage(message))
      expect(delivery.receiveCount).toBe(1)
      // Four visibility timeouts later, the heartbeat has kept it hidden.
      for (let i = 0; i < 4; i++) {
        yield* TestClock.adjust(OPTIONS.visibility)
        expect(Option.isNone(yield* queue.poll)).toBe(true)
      }
      expect(yield* queue.depth).toStrictEqual({ visible: 0, inFlight: 1, delayed: 0 })
      yield* delivery.ack
      yield* TestClock.adjust(Duration.minutes(5))
      expect(Option.isNone(yield* queue.poll)).toBe(true)
      expect(yield* queue.depth).toStrictEqual({ visible: 0, inFlight: 0, delayed: 0 })
    }))

  it.scoped("a retried message comes back after a backoff that doubles up to its cap, told as a redelivery", () =>
    Effect.gen(function*() {
      const { publisher, queue } = yield* freshQueue({ ...OPTIONS, maxReceives: 10 })
      yield* publisher.publish(messageAt(Date.parse("2024-05-01T10:00:00Z")))
      const waits: Array<number> = []
      let delivery = Option.getOrThrow(yield* queue.poll)
      for (let receive = 1; receive <= 5; receive++) {
        expect(delivery.receiveCount).toBe(receive)
        if (receive === 5) break
        yield* delivery.retry
        expect(yield* queue.depth).toStrictEqual({ visible: 0, inFlight: 0, delayed: 1 })
        let waited = 0
        for (let next = yield* queue.poll;; next = yield* queue.poll) {
          if (Option.isSome(next)) {
            delivery = next.value
            break
          }
          yield* TestClock.adjust(Duration.millis(250))
          waited += 250
        }
        waits.push(waited)
      }
      expect(waits).toStrictEqual([1_000, 2_000, 3_000, 3_000])
    }))

  it.scoped("a message received more than maxReceives times goes to the dead letters, logged, and no worker gets it", () =>
    Effect.gen(function*() {
      const logs = makeLogCollector()
      const { publisher, queue } = yield* freshQueue()
      const message = messageAt(Date.parse("2024-05-01T10:00:00Z"))
      yield* publisher.publish(message)
      for (let receive = 1; receive <= OPTIONS.maxReceives; receive++) {
        const delivery = Option.getOrThrow(yield* queue.poll)
        expect(delivery.receiveCount).toBe(receive)
        yield* delivery.release
      }
      expect(Option.isNone(yield* queue.poll.pipe(Effect.provide(logs.replacing)))).toBe(true)
      expect(yield* queue.deadLetters).toMatchObject([{
        jobId: message.jobId,
        body: encodeMessage(message),
        receiveCount: OPTIONS.maxReceives,
        reason: `received ${OPTIONS.maxReceives} times without being settled`
      }])
      expect(yield* queue.depth).toStrictEqual({ visible: 0, inFlight: 0, delayed: 0 })
      expect(
        logs.lines.map((line) => [line.level, line.message[0], line.annotations["jobId"]])
      ).toStrictEqual([["ERROR", "message received too many times; moved to the dead letters", message.jobId]])
    }))

  it.scoped("a rejected message goes to the dead letters at once", () =>
    Effect.gen(function*() {
      const { publisher, queue } = yield* freshQueue()
      const message = messageAt(Date.parse("2024-05-01T10:00:00Z"))
      yield* publisher.publish(message)
      yield* Option.getOrThrow(yield* queue.poll).reject
      expect(yield* queue.deadLetters).toMatchObject([{
        jobId: message.jobId,
        receiveCount: 1,
        reason: "rejected by the worker"
      }])
      expect(yield* queue.depth).toStrictEqual({ visible: 0, inFlight: 0, delayed: 0 })
    }))

  it.scoped("a settle by a holder whose message was handed out again since changes nothing", () =>
    Effect.gen(function*() {
      const { publisher, queue } = yield* freshQueue()
      yield* publisher.publish(messageAt(Date.parse("2024-05-01T10:00:00Z")))
      const stale = Option.getOrThrow(yield* queue.poll)
      yield* stale.release
      const current = Option.getOrThrow(yield* queue.poll)
      yield* stale.ack
      yield* stale.reject
      expect(yield* queue.depth).toStrictEqual({ visible: 0, inFlight: 1, delayed: 0 })
      expect(yield* queue.deadLetters).toStrictEqual([])
      yield* current.ack
      expect(yield* queue.depth).toStrictEqual({ visible: 0, inFlight: 0, delayed: 0 })
    }))

  it.scoped("messages the previous process held are handed out as soon as the next one starts, as redeliveries", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDataDir("ade-sqlite-")
      const path = join(dir, SqliteDatabase.DATABASE_FILE)
      const first = yield* openQueue(path)
      const held = messageAt(Date.parse("2024-05-01T10:00:00Z"))
      const waiting = messageAt(Date.parse("2024-05-01T10:00:01Z"))
      yield* first.publisher.publish(held)
      yield* first.publisher.publish(waiting)
      const delivery = Option.getOrThrow(yield* first.queue.poll)
      expect(delivery.body).toBe(encodeMessage(held))
      // The process ends without settling it (as SIGKILL would end it).
      yield* first.close

      const next = yield* openQueue(path)
      const again = Option.getOrThrow(yield* next.queue.poll)
      expect([again.body, again.receiveCount]).toStrictEqual([encodeMessage(held), 2])
      const other = Option.getOrThrow(yield* next.queue.poll)
      expect([other.body, other.receiveCount]).toStrictEqual([encodeMessage(waiting), 1])
      yield* next.close
    }))

  it.live("receive waits for a message and a publish wakes it at once", () =>
    Effect.gen(function*() {
      const { publisher, queue } = yield* freshQueue({ ...OPTIONS, pollInterval: Duration.minutes(1) })
      const receiving = yield* Effect.fork(queue.receive)
      yield* Effect.sleep(Duration.millis(50))
      const message = messageAt(Date.parse("2024-05-01T10:00:00Z"))
      yield* publisher.publish(message)
      const delivery = yield* receiving.await.pipe(
        Effect.flatMap((exit) => exit),
        Effect.timeout(Duration.seconds(2))
      )
      expect(delivery.body).toBe(encodeMessage(message))
      yield* delivery.ack
    }).pipe(Effect.scoped))
})

import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, TestClock } from "effect"
import type { DeliveryVerdict } from "../../../src/application/ExportWorker.js"
import type { Delivery } from "../../../src/application/RunExport.js"
import { deadlinesFrom, handleBatch } from "../../../src/runtimes/lambda/SqsBatch.js"
import { sqsRecord } from "./LambdaEvents.js"

const ack: DeliveryVerdict = { _tag: "Ack", outcome: { _tag: "Succeeded" } as never }

/** A handler whose verdict and duration follow the body: "ok", "retry", "reject", or "slow:<seconds>". */
const scripted = (started: Array<string>) => (body: string): Effect.Effect<DeliveryVerdict> =>
  Effect.gen(function*() {
    started.push(body)
    if (body.startsWith("slow:")) yield* Effect.sleep(Duration.seconds(Number(body.slice(5))))
    if (body === "retry") return { _tag: "Retry", reason: "job store unavailable" }
    if (body === "reject") return { _tag: "Reject", reason: "undecodable message" }
    return ack
  })

/** Unfinished records as the application answers them: Ack on their last receive (given up), Retry before. */
const unfinishedLog = () => {
  const seen: Array<[string, Delivery, string]> = []
  const unfinished = (body: string, delivery: Delivery, why: string): Effect.Effect<DeliveryVerdict> =>
    Effect.sync(() => {
      seen.push([body, delivery, why])
      return delivery.receiveCount === delivery.maxReceives ? ack : { _tag: "Retry", reason: why }
    })
  return { seen, unfinished }
}

const handlersOf = (handle: (body: string, delivery: Delivery) => Effect.Effect<DeliveryVerdict>) => ({
  handle,
  unfinished: unfinishedLog().unfinished
})

const MAX_RECEIVES = 3

const failuresOf = (response: { batchItemFailures: Array<{ itemIdentifier: string }> }) =>
  response.batchItemFailures.map((f) => f.itemIdentifier)

describe("an SQS batch in Lambda", () => {
  it.effect("reports each record on its own: only the ones not acknowledged are delivered again", () =>
    Effect.gen(function*() {
      const started: Array<string> = []
      const records = [sqsRecord("1", "ok"), sqsRecord("2", "reject"), sqsRecord("3", "ok"), sqsRecord("4", "retry")]
      const response = yield* handleBatch(records, handlersOf(scripted(started)), {
        maxReceives: MAX_RECEIVES,
        concurrency: 2,
        stopStartingAt: 60_000,
        interruptAt: 90_000,
        giveUpBy: 95_000
      })
      expect(failuresOf(response)).toStrictEqual(["2", "4"])
      expect(started.sort()).toStrictEqual(["ok", "ok", "reject", "retry"])
    }))

  it.effect("starts nothing once too little time is left, and reports what it did not start", () =>
    Effect.gen(function*() {
      const started: Array<string> = []
      const records = [sqsRecord("1", "slow:20"), sqsRecord("2", "ok"), sqsRecord("3", "ok")]
      // One at a time: the first takes 20 s, after which no record may start any more.
      const fiber = yield* Effect.fork(handleBatch(records, handlersOf(scripted(started)), {
        maxReceives: MAX_RECEIVES,
        concurrency: 1,
        stopStartingAt: 10_000,
        interruptAt: 60_000,
        giveUpBy: 65_000
      }))
      yield* TestClock.adjust(Duration.seconds(20))
      const response = yield* Fiber.join(fiber)
      expect(started).toStrictEqual(["slow:20"])
      expect(failuresOf(response)).toStrictEqual(["2", "3"])
    }))

  it.effect("interrupts records still running at the deadline and reports them, keeping the finished ones", () =>
    Effect.gen(function*() {
      const started: Array<string> = []
      const records = [sqsRecord("1", "ok"), sqsRecord("2", "slow:120"), sqsRecord("3", "slow:5")]
      const fiber = yield* Effect.fork(handleBatch(records, handlersOf(scripted(started)), {
        maxReceives: MAX_RECEIVES,
        concurrency: 3,
        stopStartingAt: 30_000,
        interruptAt: 60_000,
        giveUpBy: 65_000
      }))
      yield* TestClock.adjust(Duration.seconds(61))
      const response = yield* Fiber.join(fiber)
      expect(failuresOf(response)).toStrictEqual(["2"])
      expect(started).toHaveLength(3)
    }))

  it.effect("tells the handler each record's receive count and the queue's limit", () =>
    Effect.gen(function*() {
      const seen: Array<[string, Delivery]> = []
      const records = [sqsRecord("1", "a", 1), sqsRecord("2", "b", 2), sqsRecord("3", "c", 3)]
      yield* handleBatch(
        records,
        handlersOf((body, delivery) => {
          seen.push([body, delivery])
          return Effect.succeed(ack)
        }),
        { concurrency: 1, maxReceives: MAX_RECEIVES, stopStartingAt: 60_000, interruptAt: 90_000, giveUpBy: 95_000 }
      )
      expect(seen).toStrictEqual([
        ["a", { receiveCount: 1, maxReceives: 3 }],
        ["b", { receiveCount: 2, maxReceives: 3 }],
        ["c", { receiveCount: 3, maxReceives: 3 }]
      ])
    }))

  it.effect("gives up the jobs of records not started, or interrupted, on their last receive, and acknowledges them", () =>
    Effect.gen(function*() {
      const log = unfinishedLog()
      const records = [
        sqsRecord("1", "slow:120", 3),
        sqsRecord("2", "slow:120", 1),
        sqsRecord("3", "ok", 3),
        sqsRecord("4", "ok", 2)
      ]
      // Two at a time: the first two run until they are interrupted at 60 s; the others cannot start after 30 s.
      const fiber = yield* Effect.fork(handleBatch(records, { handle: scripted([]), unfinished: log.unfinished }, {
        concurrency: 2,
        maxReceives: MAX_RECEIVES,
        stopStartingAt: 30_000,
        interruptAt: 60_000,
        giveUpBy: 65_000
      }))
      yield* TestClock.adjust(Duration.seconds(61))
      const response = yield* Fiber.join(fiber)
      expect(log.seen.map(([body, delivery, why]) => [body, delivery.receiveCount, why]).sort()).toStrictEqual([
        ["ok", 2, "not started"],
        ["ok", 3, "not started"],
        ["slow:120", 1, "interrupted"],
        ["slow:120", 3, "interrupted"]
      ])
      // The last receives were given up (acknowledged); the others go back to the queue.
      expect(failuresOf(response)).toStrictEqual(["2", "4"])
    }))

  it.effect("a defect in one record's handler fails that record only", () =>
    Effect.gen(function*() {
      const records = [sqsRecord("1", "ok"), sqsRecord("2", "boom"), sqsRecord("3", "ok")]
      const response = yield* handleBatch(
        records,
        handlersOf((body) => body === "boom" ? Effect.die(new Error("boom")) : Effect.succeed(ack)),
        { concurrency: 1, maxReceives: MAX_RECEIVES, stopStartingAt: 60_000, interruptAt: 90_000, giveUpBy: 95_000 }
      )
      expect(failuresOf(response)).toStrictEqual(["2"])
    }))

  it("derives its deadlines from the invocation's remaining time", () => {
    expect(deadlinesFrom({
      now: 1_000,
      remainingMillis: 900_000,
      minimumToStart: Duration.minutes(2),
      answerReserve: Duration.seconds(10)
    })).toStrictEqual({ stopStartingAt: 781_000, interruptAt: 891_000, giveUpBy: 896_000 })
  })
})

// The in-memory queue's record of what was published: the latest bodies, oldest first, bounded so that a server
// that publishes for as long as it runs does not keep every message it ever sent. And its retries: each after a
// backoff that doubles up to a cap, and after the last receive to the dead-letter list, logged.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, TestClock } from "effect"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import type { MemoryQueueRetriesShape } from "../../../src/adapters/memory/MemoryJobQueue.js"
import {
  DEAD_LETTERS_KEPT,
  MemoryQueue,
  MemoryQueueRetries,
  PUBLISHED_KEPT
} from "../../../src/adapters/memory/MemoryJobQueue.js"
import { makeLogCollector } from "../../support/LogCollector.js"

const withQueue = <A, E>(test: Effect.Effect<A, E, MemoryQueue>, retries?: MemoryQueueRetriesShape) =>
  Effect.provide(
    test,
    MemoryQueue.Default.pipe(
      Layer.provide(FaultInjection.Default),
      Layer.provide(retries === undefined ? Layer.empty : Layer.succeed(MemoryQueueRetries, retries))
    )
  )

const publishAll = (queue: MemoryQueue, from: number, to: number) =>
  Effect.forEach(Array.from({ length: to - from }, (_, i) => `body-${from + i}`), queue.publishBody, {
    discard: true
  })

const bodies = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `body-${from + i}`)

describe("MemoryQueue.published", () => {
  it.effect("lists every body published, oldest first, up to the bound", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* MemoryQueue
      expect(yield* queue.published).toStrictEqual([])
      yield* publishAll(queue, 0, 3)
      expect(yield* queue.published).toStrictEqual(bodies(0, 3))
      yield* publishAll(queue, 3, PUBLISHED_KEPT)
      expect(yield* queue.published).toStrictEqual(bodies(0, PUBLISHED_KEPT))
    })))

  it.effect("keeps the latest bodies once more were published, oldest first, whatever the count", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* MemoryQueue
      yield* publishAll(queue, 0, PUBLISHED_KEPT + 5)
      expect(yield* queue.published).toStrictEqual(bodies(5, PUBLISHED_KEPT + 5))
      yield* publishAll(queue, PUBLISHED_KEPT + 5, 3 * PUBLISHED_KEPT + 7)
      expect(yield* queue.published).toStrictEqual(bodies(2 * PUBLISHED_KEPT + 7, 3 * PUBLISHED_KEPT + 7))
    })))

  it.effect("still delivers every message, the ones no longer listed included", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* MemoryQueue
      yield* publishAll(queue, 0, PUBLISHED_KEPT + 2)
      const delivered: Array<string> = []
      for (let delivery = yield* queue.poll; Option.isSome(delivery); delivery = yield* queue.poll) {
        delivered.push(delivery.value.body)
        yield* delivery.value.ack
      }
      expect(delivered).toStrictEqual(bodies(0, PUBLISHED_KEPT + 2))
    })))
})

describe("MemoryQueue retries", () => {
  const retries: MemoryQueueRetriesShape = {
    maxReceives: 5,
    backoff: { first: Duration.seconds(1), cap: Duration.seconds(3) }
  }

  /** Takes the waiting message, expecting one. */
  const take = Effect.flatMap(MemoryQueue, (queue) => queue.poll).pipe(Effect.map(Option.getOrThrow))

  it.effect("delivers a retried message again only after its backoff: doubling from the first, up to the cap", () =>
    withQueue(
      Effect.gen(function*() {
        const queue = yield* MemoryQueue
        yield* queue.publishBody("body")
        for (const [receive, backoffMillis] of [[1, 1_000], [2, 2_000], [3, 3_000], [4, 3_000]] as const) {
          const delivery = yield* take
          expect(delivery.receiveCount).toBe(receive)
          yield* delivery.retry
          expect(yield* queue.outstanding).toBe(1)
          yield* TestClock.adjust(backoffMillis - 1)
          expect(Option.isNone(yield* queue.poll)).toBe(true)
          yield* TestClock.adjust(1)
        }
        expect((yield* take).receiveCount).toBe(5)
      }),
      retries
    ))

  it.effect("dead-letters a message retried on its last receive, logs it with its job, and delivers it no more", () => {
    const logs = makeLogCollector()
    return withQueue(
      Effect.gen(function*() {
        const queue = yield* MemoryQueue
        const body = JSON.stringify({ jobId: "0190a0b0-0000-7000-8000-000000000001" })
        yield* queue.publishBody(body)
        for (let receive = 1; receive < retries.maxReceives; receive++) {
          yield* (yield* take).retry
          yield* TestClock.adjust(Duration.minutes(1))
        }
        const last = yield* take
        expect(last.receiveCount).toBe(retries.maxReceives)
        yield* last.retry.pipe(Effect.provide(logs.replacing))
        expect(yield* queue.deadLetters).toStrictEqual([body])
        yield* TestClock.adjust(Duration.hours(1))
        expect(yield* queue.outstanding).toBe(0)
        expect(Option.isNone(yield* queue.poll)).toBe(true)
        expect(logs.lines.map((line) => [line.level, line.message[0], line.annotations["jobId"]])).toStrictEqual([
          ["ERROR", "message dead-lettered after its last receive", "0190a0b0-0000-7000-8000-000000000001"]
        ])
      }),
      retries
    )
  })

  it.effect("puts a released message back at once, its receive counted", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* MemoryQueue
      yield* queue.publishBody("body")
      yield* (yield* take).release
      expect((yield* take).receiveCount).toBe(2)
    })))

  it.effect("keeps the latest dead letters, up to the bound", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* MemoryQueue
      yield* publishAll(queue, 0, DEAD_LETTERS_KEPT + 3)
      for (let delivery = yield* queue.poll; Option.isSome(delivery); delivery = yield* queue.poll) {
        yield* delivery.value.reject
      }
      expect(yield* queue.deadLetters).toStrictEqual(bodies(3, DEAD_LETTERS_KEPT + 3))
    })))
})

// The in-memory queue's record of what was published: the latest bodies, oldest first, bounded so that a server
// that publishes for as long as it runs does not keep every message it ever sent.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import { MemoryQueue, PUBLISHED_KEPT } from "../../../src/adapters/memory/MemoryJobQueue.js"

const withQueue = <A, E>(test: Effect.Effect<A, E, MemoryQueue>) =>
  Effect.provide(test, MemoryQueue.Default.pipe(Layer.provide(FaultInjection.Default)))

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

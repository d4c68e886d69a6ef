import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Option, Scope, TestClock } from "effect"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import { MemoryQueue } from "../../../src/adapters/memory/MemoryJobQueue.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import { requestExport } from "../../../src/application/RequestExport.js"
import { JobStoreUnavailable } from "../../../src/domain/Errors.js"
import * as InProcessWorker from "../../../src/runtimes/local/InProcessWorker.js"
import { alice, drainQueue, ordersInput, testLayer } from "../../support/Fixtures.js"

const statusOf = (jobId: Parameters<JobStore["Type"]["get"]>[0]) =>
  Effect.flatMap(JobStore, (store) => store.get(jobId)).pipe(Effect.map((job) => Option.getOrThrow(job)._tag))

/** Lets forked workers run until they block. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

describe("in-process workers", () => {
  it.effect("run queued exports to the end", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(
        InProcessWorker.layerOnMemory({ concurrency: 2, shutdownGrace: Duration.seconds(5) }),
        scope
      )
      const job = yield* requestExport(alice, ordersInput())
      for (let i = 0; i < 100 && (yield* statusOf(job.jobId)) !== "Succeeded"; i++) yield* settle
      expect(yield* statusOf(job.jobId)).toBe("Succeeded")
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(testLayer(20))))

  it.effect("on shutdown, give a running export its grace period, then put its message back", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(
        InProcessWorker.layerOnMemory({ concurrency: 1, shutdownGrace: Duration.seconds(5) }),
        scope
      )
      yield* (yield* FaultInjection).set({ query: { kind: "hang", afterRows: 3 } })
      const job = yield* requestExport(alice, ordersInput())
      for (let i = 0; i < 100 && (yield* statusOf(job.jobId)) !== "Running"; i++) yield* settle
      expect(yield* statusOf(job.jobId)).toBe("Running")

      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      let waited = 0
      while (closing.unsafePoll() === null && waited < 10_000) {
        yield* settle
        yield* TestClock.adjust(Duration.millis(100))
        waited += 100
      }
      yield* Fiber.join(closing)
      // Shutdown waited out the 5 s grace period for the running export, and not much longer.
      expect(waited).toBeGreaterThanOrEqual(5_000)
      expect(waited).toBeLessThanOrEqual(5_500)

      const queue = yield* MemoryQueue
      expect(yield* queue.outstanding).toBe(1)
      const redelivered = Option.getOrThrow(yield* queue.poll)
      expect(redelivered.receiveCount).toBe(2)
      expect(yield* statusOf(job.jobId)).toBe("Running")
    }).pipe(Effect.provide(testLayer(20))))

  it.effect("after shutdown, take no more messages", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(
        InProcessWorker.layerOnMemory({ concurrency: 1, shutdownGrace: Duration.seconds(5) }),
        scope
      )
      yield* Scope.close(scope, Exit.void)
      const job = yield* requestExport(alice, ordersInput())
      yield* settle
      expect(yield* statusOf(job.jobId)).toBe("Queued")
      expect(yield* (yield* MemoryQueue).outstanding).toBe(1)
    }).pipe(Effect.provide(testLayer(20))))
})

describe("draining the queue", () => {
  /** The store in context, its `get` unavailable for the first `outages` calls. */
  const storeAwayFor = (outages: number) =>
    Effect.map(JobStore, (store) => {
      let left = outages
      return JobStore.of({
        ...store,
        get: (jobId) => left-- > 0 ? Effect.fail(new JobStoreUnavailable({ detail: "store away" })) : store.get(jobId)
      })
    })

  it.effect("waits out a retry's backoff on the clock, then handles the message", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const flaky = yield* storeAwayFor(1)
      const draining = yield* Effect.fork(drainQueue.pipe(Effect.provideService(JobStore, flaky)))
      yield* settle
      yield* TestClock.adjust(Duration.millis(999))
      yield* settle
      expect(draining.unsafePoll()).toBeNull()
      expect(yield* statusOf(job.jobId)).toBe("Queued")
      yield* TestClock.adjust(Duration.millis(1))
      const verdicts = yield* Fiber.join(draining)
      expect(verdicts.map((verdict) => verdict._tag)).toStrictEqual(["Retry", "Ack"])
      expect(yield* statusOf(job.jobId)).toBe("Succeeded")
    }).pipe(Effect.provide(testLayer(20))))

  it.effect("ends once a message that keeps failing was received as often as the queue allows, dead-lettered", () =>
    Effect.gen(function*() {
      const job = yield* requestExport(alice, ordersInput())
      const queue = yield* MemoryQueue
      const down = yield* storeAwayFor(Number.POSITIVE_INFINITY)
      const draining = yield* Effect.fork(drainQueue.pipe(Effect.provideService(JobStore, down)))
      yield* TestClock.adjust(Duration.hours(1))
      const verdicts = yield* Fiber.join(draining)
      expect(verdicts.map((verdict) => verdict._tag)).toStrictEqual(
        Array.from({ length: queue.retries.maxReceives }, () => "Retry")
      )
      expect(yield* queue.deadLetters).toHaveLength(1)
      expect(yield* queue.deadLetters).toStrictEqual(
        (yield* queue.published).filter((body) => body.includes(job.jobId))
      )
      expect(yield* queue.outstanding).toBe(0)
    }).pipe(Effect.provide(testLayer(20))))
})

// Workers in the same process as their queue: take deliveries, hand them to the application and settle each as the
// verdict says. The queue is any DeliverySource: SQLite for `npm start`, memory for the simulator and the tests.
import type { Duration } from "effect"
import { Deferred, Effect, Fiber, Layer, Option, Ref } from "effect"
import { MemoryQueue } from "../../adapters/memory/MemoryJobQueue.js"
import { handleDelivery } from "../../application/ExportWorker.js"
import type { DeliveryVerdict } from "../../application/ExportWorker.js"
import { waitThenInterrupt } from "../../application/GracefulStop.js"
import { DeliverySource } from "../../application/ports/DeliverySource.js"
import type { QueueDelivery } from "../../application/ports/DeliverySource.js"

export const settle = (delivery: QueueDelivery, verdict: DeliveryVerdict): Effect.Effect<void> => {
  switch (verdict._tag) {
    case "Ack":
      return delivery.ack
    case "Retry":
      return delivery.retry
    case "Reject":
      return delivery.reject
  }
}

/** The delivery as the queue tells it: its receive count and, where it has one, its limit on receives. */
export const processDelivery = (delivery: QueueDelivery) =>
  handleDelivery(delivery.body, { receiveCount: delivery.receiveCount, maxReceives: delivery.maxReceives }).pipe(
    Effect.tap((verdict) => settle(delivery, verdict))
  )

/** The memory queue in context as the workers' DeliverySource. */
const memorySource = Layer.effect(
  DeliverySource,
  Effect.map(MemoryQueue, (queue) => DeliverySource.of({ receive: queue.receive }))
)

/**
 * Handles every waiting message, including retries, until none is left. A retry comes back after its backoff, on
 * the Effect clock: a test moves the TestClock past it (or drains in a fiber while the clock jumps). Bounded, so a
 * bug cannot spin; the queue's receive limit bounds the retries of any one message.
 */
export const drainQueue = (maxDeliveries = 10_000) =>
  Effect.gen(function*() {
    const queue = yield* MemoryQueue
    const verdicts: Array<DeliveryVerdict> = []
    while (verdicts.length < maxDeliveries) {
      const waiting = yield* queue.poll
      if (Option.isNone(waiting) && (yield* queue.pending) === 0) return verdicts
      // Nothing waiting but a retry backing off: wait for it.
      const delivery = Option.isSome(waiting) ? waiting.value : yield* queue.receive
      verdicts.push(yield* processDelivery(delivery))
    }
    return yield* Effect.dieMessage(`queue did not drain in ${maxDeliveries} deliveries`)
  })

export interface WorkerOptions {
  /** How many exports run at once. */
  readonly concurrency: number
  /** On shutdown, how long running exports may take to finish before they are interrupted and put back. */
  readonly shutdownGrace: Duration.Duration
}

/**
 * Workers that take deliveries from the DeliverySource in context for as long as the layer lives. On release they
 * stop taking new messages, give running exports `shutdownGrace` to finish, then interrupt what is left and put
 * those messages back.
 */
export const layer = (options: WorkerOptions) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const queue = yield* DeliverySource
    const stopping = yield* Deferred.make<void>()
    const busy = yield* Ref.make(0)
    const nextDelivery = Effect.raceFirst(
      Effect.map(queue.receive, Option.some),
      Effect.as(Deferred.await(stopping), Option.none())
    )
    const worker = Effect.gen(function*() {
      while (true) {
        const delivery = yield* nextDelivery
        if (Option.isNone(delivery)) return
        yield* Ref.update(busy, (n) => n + 1)
        yield* processDelivery(delivery.value).pipe(
          // Stopping is not the message's failure: it goes back at once, without a backoff.
          Effect.onInterrupt(() => delivery.value.release),
          Effect.ensuring(Ref.update(busy, (n) => n - 1))
        )
      }
    })
    const fibers = yield* Effect.forEach(
      Array.from({ length: options.concurrency }),
      () => Effect.forkDaemon(worker)
    )
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const running = yield* Ref.get(busy)
        yield* Effect.logInfo("workers stopping", { running })
        yield* Deferred.succeed(stopping, undefined)
        yield* waitThenInterrupt({
          wait: Fiber.joinAll(fibers),
          grace: options.shutdownGrace,
          interrupt: Fiber.interruptAll(fibers)
        })
      })
    )
  }))

/** The workers on the memory queue in context. */
export const layerOnMemory = (options: WorkerOptions) => layer(options).pipe(Layer.provide(memorySource))

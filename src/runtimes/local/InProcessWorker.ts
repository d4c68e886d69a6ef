// A worker in the same process as the in-memory queue: takes deliveries, hands them to the application and
// settles each as the verdict says.
import { Effect, Option } from "effect"
import { MemoryJobQueue } from "../../adapters/memory/MemoryJobQueue.js"
import type { Delivery } from "../../adapters/memory/MemoryJobQueue.js"
import { handleDelivery } from "../../application/ExportWorker.js"
import type { DeliveryVerdict } from "../../application/ExportWorker.js"

export const settle = (delivery: Delivery, verdict: DeliveryVerdict): Effect.Effect<void> => {
  switch (verdict._tag) {
    case "Ack":
      return delivery.ack
    case "Retry":
      return delivery.retry
    case "Reject":
      return delivery.reject
  }
}

export const processDelivery = (delivery: Delivery) =>
  handleDelivery(delivery.body).pipe(Effect.tap((verdict) => settle(delivery, verdict)))

/** Handles every waiting message, including retries, until none is left. Bounded, so a bug cannot spin. */
export const drainQueue = (maxDeliveries = 10_000) =>
  Effect.gen(function*() {
    const queue = yield* MemoryJobQueue
    const verdicts: Array<DeliveryVerdict> = []
    while (verdicts.length < maxDeliveries) {
      const delivery = yield* queue.poll
      if (Option.isNone(delivery)) return verdicts
      verdicts.push(yield* processDelivery(delivery.value))
    }
    return yield* Effect.dieMessage(`queue did not drain in ${maxDeliveries} deliveries`)
  })

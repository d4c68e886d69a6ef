// The consuming side of an in-process queue: what the embedded server's workers take messages from, whichever
// adapter keeps the queue (memory for the simulator and tests, SQLite for `npm start`).
import type { Effect } from "effect"
import { Context } from "effect"

/** One message handed to a worker, to be settled once as the verdict on it says. */
export interface QueueDelivery {
  readonly body: string
  /** 1 on the first delivery of a message. */
  readonly receiveCount: number
  /** How many receives the queue allows before it dead-letters the message; undefined when it never does. */
  readonly maxReceives: number | undefined
  /** Done with: delete the message. */
  readonly ack: Effect.Effect<void>
  /** Could not be handled now: deliver it again later. */
  readonly retry: Effect.Effect<void>
  /** Can never be handled: move it to the dead letters. */
  readonly reject: Effect.Effect<void>
  /** The worker is stopping before it could finish: hand the message out again at once, as it stands. */
  readonly release: Effect.Effect<void>
}

export class DeliverySource extends Context.Tag("exports/DeliverySource")<DeliverySource, {
  /** Waits for the next message. */
  readonly receive: Effect.Effect<QueueDelivery>
}>() {}

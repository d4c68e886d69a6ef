// A queue in memory with the delivery semantics the worker must survive: at-least-once delivery, explicit
// acknowledgement, redelivery of what is not acknowledged, and a dead-letter list.
import { Effect, Layer, Option, Queue, Ref } from "effect"
import { CurrentCatalogue } from "../../application/CurrentCatalogue.js"
import { JobQueue, messageEncoderOf } from "../../application/ports/JobQueue.js"
import { QueueUnavailable } from "../../domain/Errors.js"
import { FaultInjection } from "./FaultInjection.js"

export interface Delivery {
  readonly body: string
  /** 1 on the first delivery of a message. */
  readonly receiveCount: number
  readonly ack: Effect.Effect<void>
  /** Puts the message back to be delivered again (a visibility timeout running out, in SQS terms). */
  readonly retry: Effect.Effect<void>
  /** Moves the message to the dead-letter list. */
  readonly reject: Effect.Effect<void>
}

/**
 * How many of the latest published bodies `published` keeps. Tests and tools look at what they have just published;
 * the embedded server publishes for as long as it runs, and would otherwise keep every body it ever sent.
 */
export const PUBLISHED_KEPT = 1_000

interface Envelope {
  readonly body: string
  readonly receiveCount: number
}

/** The queue itself: what this module's JobQueue publishes to, and what workers and tests take messages from. */
export class MemoryQueue extends Effect.Service<MemoryQueue>()("exports/memory/MemoryQueue", {
  effect: Effect.gen(function*() {
    const faults = yield* FaultInjection
    const ready = yield* Queue.unbounded<Envelope>()
    // A ring of the latest bodies, written in place; `nextSlot` is where the oldest one is once the ring is full.
    const published: Array<string> = []
    let nextSlot = 0
    const deadLetters = yield* Ref.make<ReadonlyArray<string>>([])
    const inFlight = yield* Ref.make(0)

    const deliveryOf = (envelope: Envelope): Delivery => {
      const settle = (then: Effect.Effect<unknown>) =>
        Ref.update(inFlight, (n) => n - 1).pipe(Effect.zipRight(then), Effect.asVoid)
      return {
        body: envelope.body,
        receiveCount: envelope.receiveCount,
        ack: settle(Effect.void),
        retry: settle(Queue.offer(ready, envelope)),
        reject: settle(Ref.update(deadLetters, (list) => [...list, envelope.body]))
      }
    }

    return {
      publishBody: (body: string) =>
        Effect.flatMap(faults.fire("queue"), (fault) => {
          if (Option.isSome(fault)) return new QueueUnavailable({ detail: "injected fault: queue down" })
          if (published.length < PUBLISHED_KEPT) published.push(body)
          else published[nextSlot] = body
          nextSlot = (nextSlot + 1) % PUBLISHED_KEPT
          return Effect.asVoid(Queue.offer(ready, { body, receiveCount: 0 }))
        }),
      /** Waits for the next message. */
      receive: Queue.take(ready).pipe(
        Effect.tap(() => Ref.update(inFlight, (n) => n + 1)),
        Effect.map((envelope) => deliveryOf({ ...envelope, receiveCount: envelope.receiveCount + 1 }))
      ),
      /** The next message if one is waiting. */
      poll: Queue.poll(ready).pipe(
        Effect.tap((envelope) => Option.isSome(envelope) ? Ref.update(inFlight, (n) => n + 1) : Effect.void),
        Effect.map(Option.map((envelope) => deliveryOf({ ...envelope, receiveCount: envelope.receiveCount + 1 })))
      ),
      /** Delivers a message once more, as a queue with at-least-once delivery may. */
      duplicate: (body: string) => Queue.offer(ready, { body, receiveCount: 0 }),
      /** The latest bodies published (up to `PUBLISHED_KEPT`), oldest first. */
      published: Effect.sync((): ReadonlyArray<string> =>
        published.length < PUBLISHED_KEPT
          ? published.slice()
          : [...published.slice(nextSlot), ...published.slice(0, nextSlot)]
      ),
      deadLetters: Ref.get(deadLetters),
      /** Messages waiting plus messages handed out and not yet settled. */
      outstanding: Effect.zipWith(Queue.size(ready), Ref.get(inFlight), (waiting, taken) => waiting + taken)
    }
  })
}) {}

/** The JobQueue on the MemoryQueue in context, encoding messages with the catalogue in use. */
export const layer = Layer.effect(
  JobQueue,
  Effect.gen(function*() {
    const queue = yield* MemoryQueue
    const encode = messageEncoderOf(yield* CurrentCatalogue)
    return JobQueue.of({ publish: (message) => queue.publishBody(encode(message)) })
  })
)

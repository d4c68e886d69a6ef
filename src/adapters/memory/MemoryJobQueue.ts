// A queue in memory with the delivery semantics the worker must survive: at-least-once delivery, explicit
// acknowledgement, redelivery of what is not acknowledged after a backoff, and a dead-letter list for what was
// received too often or can never be handled.
import { Context, Effect, Layer, Option, Queue, Ref } from "effect"
import { CurrentCatalogue } from "../../application/CurrentCatalogue.js"
import { JobQueue, messageEncoderOf } from "../../application/ports/JobQueue.js"
import { DEFAULT_QUEUE_BACKOFF, retryDelay } from "../../application/QueueBackoff.js"
import type { QueueBackoff } from "../../application/QueueBackoff.js"
import { QueueUnavailable } from "../../domain/Errors.js"
import { FaultInjection } from "./FaultInjection.js"

export interface Delivery {
  readonly body: string
  /** 1 on the first delivery of a message. */
  readonly receiveCount: number
  /** The receives allowed before the message is dead-lettered. */
  readonly maxReceives: number
  readonly ack: Effect.Effect<void>
  /**
   * Puts the message back to be delivered again once its backoff has passed (a visibility timeout running out, in
   * SQS terms); after its last receive it goes to the dead-letter list instead.
   */
  readonly retry: Effect.Effect<void>
  /** Puts the message back at once, as a worker that stops hands back what it could not finish. */
  readonly release: Effect.Effect<void>
  /** Moves the message to the dead-letter list. */
  readonly reject: Effect.Effect<void>
}

/** How the queue redelivers a message its worker asked to retry. */
export interface MemoryQueueRetriesShape {
  /** Receives after which a retried message is dead-lettered rather than delivered again (SQS's maxReceiveCount). */
  readonly maxReceives: number
  /** The wait between a retry and the next receive (application/QueueBackoff.ts). */
  readonly backoff: QueueBackoff
}

/**
 * The queue's retry settings; the defaults unless a layer provides others. Five receives: a message that fails for
 * a passing reason (a defect, the store away) gets four more chances over 15 seconds, then is dead-lettered.
 */
export class MemoryQueueRetries extends Context.Reference<MemoryQueueRetries>()("exports/memory/MemoryQueueRetries", {
  defaultValue: (): MemoryQueueRetriesShape => ({
    maxReceives: 5,
    backoff: DEFAULT_QUEUE_BACKOFF
  })
}) {}

/**
 * How many of the latest published bodies `published` keeps. Tests and tools look at what they have just published;
 * the embedded server publishes for as long as it runs, and would otherwise keep every body it ever sent.
 */
export const PUBLISHED_KEPT = 1_000

/** How many dead-lettered bodies `deadLetters` keeps, the latest: each one is also logged. */
export const DEAD_LETTERS_KEPT = 1_000

interface Envelope {
  readonly body: string
  readonly receiveCount: number
}

/** The job a body names, for the log line of its dead-lettering; undefined when the body does not say. */
const jobIdIn = (body: string): string | undefined => {
  try {
    const jobId: unknown = (JSON.parse(body) as { readonly jobId?: unknown } | null)?.jobId
    return typeof jobId === "string" ? jobId : undefined
  } catch {
    return undefined
  }
}

/** The queue itself: what this module's JobQueue publishes to, and what workers and tests take messages from. */
export class MemoryQueue extends Effect.Service<MemoryQueue>()("exports/memory/MemoryQueue", {
  scoped: Effect.gen(function*() {
    const faults = yield* FaultInjection
    const retries = yield* MemoryQueueRetries
    // Backoff timers run in the queue's own scope: they end with it.
    const scope = yield* Effect.scope
    const ready = yield* Queue.unbounded<Envelope>()
    // A ring of the latest bodies, written in place; `nextSlot` is where the oldest one is once the ring is full.
    const published: Array<string> = []
    let nextSlot = 0
    const deadLetters = yield* Ref.make<ReadonlyArray<string>>([])
    const inFlight = yield* Ref.make(0)
    /** Messages waiting out a backoff. Counted down only once the message is back in `ready` (see `pending`). */
    const delayed = yield* Ref.make(0)

    const deadLetter = (envelope: Envelope) =>
      Ref.update(
        deadLetters,
        (list) => [...list.slice(Math.max(0, list.length + 1 - DEAD_LETTERS_KEPT)), envelope.body]
      )

    const retryLater = (envelope: Envelope): Effect.Effect<void> => {
      if (envelope.receiveCount >= retries.maxReceives) {
        const jobId = jobIdIn(envelope.body)
        return deadLetter(envelope).pipe(
          Effect.zipRight(
            Effect.logError("message dead-lettered after its last receive", { receiveCount: envelope.receiveCount })
          ),
          Effect.annotateLogs(jobId === undefined ? {} : { jobId })
        )
      }
      return Ref.update(delayed, (n) => n + 1).pipe(
        Effect.zipRight(
          Effect.sleep(retryDelay(retries.backoff, envelope.receiveCount)).pipe(
            Effect.zipRight(Queue.offer(ready, envelope)),
            Effect.zipRight(Ref.update(delayed, (n) => n - 1)),
            Effect.forkIn(scope)
          )
        ),
        Effect.asVoid
      )
    }

    /**
     * Messages waiting or waiting out a backoff, not those handed out. The backoffs are read first: a message leaves
     * them only once it is waiting, so none is missed between the two reads.
     */
    const pending = Effect.zipWith(Ref.get(delayed), Queue.size(ready), (backingOff, waiting) => backingOff + waiting)

    const deliveryOf = (envelope: Envelope): Delivery => {
      const settle = (then: Effect.Effect<unknown>) =>
        Ref.update(inFlight, (n) => n - 1).pipe(Effect.zipRight(then), Effect.asVoid)
      return {
        body: envelope.body,
        receiveCount: envelope.receiveCount,
        maxReceives: retries.maxReceives,
        ack: settle(Effect.void),
        retry: settle(retryLater(envelope)),
        release: settle(Queue.offer(ready, envelope)),
        reject: settle(deadLetter(envelope))
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
      pending,
      /** Delivers a message once more, as a queue with at-least-once delivery may. */
      duplicate: (body: string) => Queue.offer(ready, { body, receiveCount: 0 }),
      /** The latest bodies published (up to `PUBLISHED_KEPT`), oldest first. */
      published: Effect.sync((): ReadonlyArray<string> =>
        published.length < PUBLISHED_KEPT
          ? published.slice()
          : [...published.slice(nextSlot), ...published.slice(0, nextSlot)]
      ),
      /** The latest bodies dead-lettered (up to `DEAD_LETTERS_KEPT`), oldest first. */
      deadLetters: Ref.get(deadLetters),
      /** Messages waiting, waiting out a backoff, or handed out and not yet settled. */
      outstanding: Effect.zipWith(Ref.get(inFlight), pending, (taken, waiting) => taken + waiting),
      /** The settings its retries follow. */
      retries
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

// The worker side of SQS for a long-running Node process: long-polls the queue, hands each message to the
// application and turns its verdict into SQS terms. The in-process workers' semantics, with SQS doing the queueing.
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs"
import type { Message } from "@aws-sdk/client-sqs"
import { Cause, Duration, Effect, Fiber, FiberSet, Layer, Schedule, STM, TSemaphore } from "effect"
import { handleDelivery, handleUnfinished } from "../../application/ExportWorker.js"
import type { DeliveryVerdict } from "../../application/ExportWorker.js"
import { waitThenInterrupt } from "../../application/GracefulStop.js"
import { receiveTimeout, sqsCall, SqsClient, SqsSettings } from "./SqsClient.js"
import { JOB_ID_ATTRIBUTE } from "./SqsJobQueue.js"

export interface SqsConsumerOptions {
  /** How many messages are handled at once; never more are received than there are free slots. */
  readonly concurrency: number
  /** On release, how long running handlers may take to finish before they are interrupted. */
  readonly shutdownGrace: Duration.Duration
  /** The queue's redrive policy's maxReceiveCount (QUEUE_MAX_RECEIVES): a message's last receive gives its job up. */
  readonly maxReceives: number
}

/** A failing ReceiveMessage (network, throttling, credentials) is retried for ever: 1 s doubling up to 30 s. */
export const receiveBackoff = Schedule.exponential(Duration.seconds(1)).pipe(
  Schedule.union(Schedule.spaced(Duration.seconds(30))),
  Schedule.jittered
)

/** A failing DeleteMessage is retried briefly; after that the message comes back and is acknowledged again. */
export const deleteRetry = Schedule.exponential(Duration.millis(200)).pipe(
  Schedule.intersect(Schedule.recurs(3))
)

/** A message put back on shutdown is best effort: bounded so that shutdown never hangs on SQS. */
export const PUT_BACK_TIMEOUT = Duration.seconds(2)

/**
 * A message interrupted by shutdown on its last receive cannot be put back (the queue would dead-letter it): its job
 * is given up instead, one try per notice, bounded so that shutdown never hangs.
 */
export const GIVE_UP_TIMEOUT = Duration.seconds(10)

/** With WaitTimeSeconds 0 an empty receive answers at once: pause so that an idle consumer does not spin. */
const SHORT_POLL_PAUSE = Duration.seconds(1)

/** Our own attribute, but still input: keep what is logged short. */
const jobIdOf = (message: Message): string | undefined =>
  message.MessageAttributes?.[JOB_ID_ATTRIBUTE]?.StringValue?.slice(0, 64)

/**
 * Long-polls the queue for as long as the layer lives. Each message is handled while a heartbeat keeps it hidden;
 * its verdict decides what happens to it. On release the consumer stops receiving, gives running handlers
 * `shutdownGrace` to finish, then interrupts them and makes their messages visible again.
 */
export const layer = (options: SqsConsumerOptions) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const client = yield* SqsClient
    const settings = yield* SqsSettings
    const { callTimeout, queueUrl, visibilitySeconds } = settings
    const slots = yield* STM.commit(TSemaphore.make(options.concurrency))
    const handlers = yield* FiberSet.make<void>()

    const changeVisibility = (receiptHandle: string, seconds: number) =>
      sqsCall("ChangeMessageVisibility", callTimeout, (abortSignal) =>
        client.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: seconds
          }),
          { abortSignal }
        ))

    /** Keeps the message hidden for as long as its handler runs, whatever the export's length. */
    const heartbeat = (receiptHandle: string) =>
      Effect.sleep(Duration.millis(visibilitySeconds * 1000 / 3)).pipe(
        Effect.zipRight(
          changeVisibility(receiptHandle, visibilitySeconds).pipe(
            Effect.catchAll((error) =>
              Effect.logWarning("could not extend the message's visibility", { detail: error.detail })
            )
          )
        ),
        Effect.forever
      )

    const settle = (receiptHandle: string, verdict: DeliveryVerdict): Effect.Effect<void> => {
      switch (verdict._tag) {
        case "Ack":
          return sqsCall("DeleteMessage", callTimeout, (abortSignal) =>
            client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }), {
              abortSignal
            })).pipe(
              Effect.retry(deleteRetry),
              Effect.catchAll((error) =>
                Effect.logWarning("could not delete a handled message; it will come back and be acknowledged", {
                  detail: error.detail
                })
              )
            )
        case "Retry":
          // Left as it is: it comes back when its visibility runs out. Shortening it would retry sooner, but a
          // job-store outage would then burn through the redrive policy's maxReceiveCount (and reach the DLQ)
          // in seconds; the full visibility gives an outage maxReceiveCount × SQS_VISIBILITY_SECONDS to pass.
          return Effect.logInfo("message left on the queue for a later delivery", { reason: verdict.reason })
        case "Reject":
          // Left to the queue's redrive policy rather than sent to a DLQ by us: SQS moves it atomically after
          // maxReceiveCount receives, keeping its attributes and receive count, and a DLQ redrive can later move
          // it back to its source queue. Sending and deleting here would be two non-atomic calls and one more
          // setting and permission. The cost is maxReceiveCount × visibility before it lands there, harmless
          // since it blocks nothing. The queue must therefore have a redrive policy, or it comes back for ever.
          return Effect.logError("message rejected; the queue's redrive policy moves it to the dead-letter queue", {
            reason: verdict.reason
          })
      }
    }

    const handle = (message: Message) => {
      const receiptHandle = message.ReceiptHandle
      const jobId = jobIdOf(message)
      const receiveCount = Number(message.Attributes?.ApproximateReceiveCount)
      // An absent or unreadable count says nothing: such a delivery is never taken for the last.
      const delivery = {
        receiveCount: Number.isInteger(receiveCount) ? receiveCount : undefined,
        maxReceives: options.maxReceives
      }
      const annotations = {
        messageId: message.MessageId ?? "unknown",
        receiveCount: delivery.receiveCount ?? "unknown",
        ...(jobId === undefined ? {} : { jobId })
      }
      if (receiptHandle === undefined) {
        return Effect.logError("received a message without a receipt handle").pipe(Effect.annotateLogs(annotations))
      }
      return Effect.gen(function*() {
        yield* Effect.forkScoped(heartbeat(receiptHandle))
        return yield* handleDelivery(message.Body ?? "", delivery)
      }).pipe(
        Effect.scoped,
        Effect.flatMap((verdict) =>
          settle(receiptHandle, verdict)
        ),
        // handleDelivery turns every expected failure and defect into a verdict; this is the last net, so that
        // nothing one message does can stop the consumer. The message comes back when its visibility runs out.
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Effect.logError("message handling crashed; it will be delivered again", cause)
        ),
        Effect.onInterrupt(() =>
          Effect.gen(function*() {
            // Finalizers are uninterruptible; the calls must be interruptible for their timeouts to end them.
            const verdict = yield* handleUnfinished(message.Body ?? "", delivery, "interrupted").pipe(
              Effect.interruptible,
              Effect.timeout(GIVE_UP_TIMEOUT),
              Effect.catchAll(() =>
                Effect.logError("could not give up an interrupted message's job in time").pipe(
                  Effect.as<DeliveryVerdict>({ _tag: "Retry", reason: "interrupted" })
                )
              )
            )
            if (verdict._tag !== "Retry") {
              return yield* settle(receiptHandle, verdict)
            }
            // Shutdown interrupted it: make it visible at once rather than after the rest of its visibility.
            yield* changeVisibility(receiptHandle, 0).pipe(
              Effect.interruptible,
              Effect.timeout(PUT_BACK_TIMEOUT),
              Effect.catchAll((error) =>
                Effect.logWarning("could not put an interrupted message back; it returns after its visibility", {
                  detail: error._tag === "SqsCallFailed" ? error.detail : "timed out"
                })
              )
            )
          })
        ),
        Effect.annotateLogs(annotations),
        Effect.withSpan("SqsConsumer.handle")
      )
    }

    const receive = (max: number) =>
      // Its limit exceeds the long poll's wait: an empty queue answers only when the wait is over.
      sqsCall("ReceiveMessage", receiveTimeout(settings), (abortSignal) =>
        client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: max,
            WaitTimeSeconds: settings.waitSeconds,
            VisibilityTimeout: visibilitySeconds,
            // The modern name of the deprecated AttributeNames (whose type no longer lists this attribute).
            MessageSystemAttributeNames: ["ApproximateReceiveCount"],
            MessageAttributeNames: [JOB_ID_ATTRIBUTE]
          }),
          { abortSignal }
        )).pipe(
          Effect.map((output) =>
            output.Messages ?? []
          ),
          Effect.tapError((error) =>
            Effect.logWarning("could not receive from the queue; backing off", { detail: error.detail })
          ),
          Effect.retry(receiveBackoff),
          Effect.orElseSucceed((): ReadonlyArray<Message> => [])
        )

    /** Waits for at least one free slot, then takes every free one (up to what one receive may ask for). */
    const takeFreeSlots = STM.commit(STM.gen(function*() {
      const free = yield* TSemaphore.available(slots)
      if (free === 0) return yield* STM.retry
      const taken = Math.min(free, settings.maxMessages)
      yield* TSemaphore.acquireN(slots, taken)
      return taken
    }))

    const receiver = Effect.gen(function*() {
      while (true) {
        const taken = yield* takeFreeSlots
        const messages = yield* receive(taken)
        yield* STM.commit(TSemaphore.releaseN(slots, taken - messages.length))
        for (const message of messages) {
          yield* FiberSet.run(handlers, handle(message).pipe(Effect.ensuring(STM.commit(TSemaphore.release(slots)))))
        }
        if (messages.length === 0 && settings.waitSeconds === 0) yield* Effect.sleep(SHORT_POLL_PAUSE)
      }
    })
    const receiving = yield* Effect.forkDaemon(receiver)

    // Added after FiberSet.make, so it runs before the set's own finalizer interrupts the handlers.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        // Interrupting the receiver aborts a long poll in flight; messages it had already taken from SQS come
        // back after their visibility.
        yield* Fiber.interrupt(receiving)
        yield* Effect.logInfo("SQS consumer stopping", { running: yield* FiberSet.size(handlers) })
        yield* waitThenInterrupt({
          wait: FiberSet.awaitEmpty(handlers),
          grace: options.shutdownGrace,
          interrupt: Fiber.interruptAll(handlers)
        })
      })
    )
  }))

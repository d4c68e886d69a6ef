// The JobQueue port on SQS: one SendMessage per export, the encoded ExportMessage as the body and the jobId as a
// message attribute, so that a consumer (or an operator reading the DLQ) can name the job without decoding.
import { SendMessageCommand } from "@aws-sdk/client-sqs"
import type { ConfigError } from "effect"
import { Effect, Layer } from "effect"
import { encodeMessage, JobQueue } from "../../application/ports/JobQueue.js"
import { QueueUnavailable } from "../../domain/Errors.js"
import * as SqsClient from "./SqsClient.js"

/** The message attribute that carries the job id. */
export const JOB_ID_ATTRIBUTE = "jobId"

/** The publisher on the client and settings in context. */
export const make: Effect.Effect<JobQueue["Type"], never, SqsClient.SqsClient | SqsClient.SqsSettings> = Effect.gen(
  function*() {
    const client = yield* SqsClient.SqsClient
    const { callTimeout, queueUrl } = yield* SqsClient.SqsSettings
    return JobQueue.of({
      publish: Effect.fn("SqsJobQueue.publish")(function*(message) {
        // The API answers while the client waits: past the call's limit, the request is answered QueueUnavailable.
        yield* SqsClient.sqsCall("SendMessage", callTimeout, (abortSignal) =>
          client.send(
            new SendMessageCommand({
              QueueUrl: queueUrl,
              MessageBody: encodeMessage(message),
              MessageAttributes: { [JOB_ID_ATTRIBUTE]: { DataType: "String", StringValue: message.jobId } }
            }),
            { abortSignal }
          )).pipe(
            Effect.catchTag("SqsCallFailed", (error) => Effect.fail(new QueueUnavailable({ detail: error.detail })))
          )
      })
    })
  }
)

/** The publisher on the client and settings in context. */
export const layer: Layer.Layer<JobQueue, never, SqsClient.SqsClient | SqsClient.SqsSettings> = Layer.effect(
  JobQueue,
  make
)

/** The publisher on the environment's settings (SQS_*). */
export const layerConfig: Layer.Layer<JobQueue, ConfigError.ConfigError> = layer.pipe(
  Layer.provide(SqsClient.layerConfig)
)

// fauxqs (an SQS emulator on fastify) in this process, on 127.0.0.1 and a free port, with an export queue and its
// dead-letter queue (redrive after 3 receives) created through the SDK: a scoped layer, closed with the test's scope.
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs"
import type { Message } from "@aws-sdk/client-sqs"
import { Context, Effect, Layer, Redacted } from "effect"
import { buildApp } from "fauxqs"
import { SQS_CALL_TIMEOUT } from "../../../src/adapters/sqs/SqsClient.js"
import type { SqsSettingsShape } from "../../../src/adapters/sqs/SqsClient.js"
import { DEFAULT_QUEUE_MAX_RECEIVES } from "../../../src/application/ExportWorker.js"

/** fauxqs checks the signature's shape, not the keys. */
const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" }
const REGION = "us-east-1"
/** The stack's redrive limit, which the workers assume unless QUEUE_MAX_RECEIVES says otherwise. */
export const MAX_RECEIVE_COUNT = DEFAULT_QUEUE_MAX_RECEIVES

export class FauxqsServer extends Context.Tag("test/FauxqsServer")<FauxqsServer, {
  readonly endpoint: string
  readonly queueUrl: string
  readonly dlqUrl: string
  /** Settings for `SqsClient.layerSettings` that reach the export queue; short waits so tests take seconds. */
  readonly settings: SqsSettingsShape
  /** Visible plus in-flight (not yet deleted) messages. */
  readonly depth: (queueUrl: string) => Effect.Effect<{ readonly visible: number; readonly inFlight: number }>
  /** Takes the visible messages of a queue (they stay on it, hidden for `visibilitySeconds`). */
  readonly peek: (queueUrl: string, visibilitySeconds?: number) => Effect.Effect<ReadonlyArray<Message>>
  /** The test's own client, apart from the adapter's. */
  readonly client: SQSClient
  /**
   * While `false`, every connection is reset as soon as a request arrives: SQS unreachable, to every client
   * (the test's own included). `true` again serves as before, with the queues and messages as they were.
   */
  readonly setReachable: (reachable: boolean) => Effect.Effect<void>
  /** The bodies of the export queue's visible messages, read through fauxqs's inspection route: no receive counted. */
  readonly visibleBodies: Effect.Effect<ReadonlyArray<string>>
}>() {}

const start = Effect.acquireRelease(
  Effect.promise(async () => {
    const app = buildApp({ logger: false })
    const reachability = { reachable: true }
    app.addHook("onRequest", (request, _reply, done) => {
      if (reachability.reachable) return done()
      request.raw.socket.destroy()
    })
    // startFauxqs always listens on 0.0.0.0; the fastify app listens where it is told.
    const address = await app.listen({ port: 0, host: "127.0.0.1" })
    return { app, endpoint: address, reachability }
  }),
  ({ app }) => Effect.promise(() => app.close())
)

export const FauxqsServerLive: Layer.Layer<FauxqsServer> = Layer.scoped(
  FauxqsServer,
  Effect.gen(function*() {
    const { endpoint, reachability } = yield* start
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => new SQSClient({ region: REGION, endpoint, credentials: LOCAL_CREDENTIALS })),
      (c) => Effect.sync(() => c.destroy())
    )
    const send = <A>(call: () => Promise<A>) => Effect.promise(call)
    const dlq = yield* send(() => client.send(new CreateQueueCommand({ QueueName: "exports-dlq" })))
    const dlqUrl = dlq.QueueUrl!
    const dlqArn = (yield* send(() =>
      client.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }))
    )).Attributes!.QueueArn!
    const queue = yield* send(() =>
      client.send(
        new CreateQueueCommand({
          QueueName: "exports",
          Attributes: {
            RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: MAX_RECEIVE_COUNT })
          }
        })
      )
    )
    const queueUrl = queue.QueueUrl!
    return {
      endpoint,
      queueUrl,
      dlqUrl,
      client,
      visibleBodies: Effect.promise(async () => {
        const response = await fetch(`${endpoint}/_fauxqs/queues/exports`)
        const inspected = (await response.json()) as { messages: { ready: ReadonlyArray<{ body: string }> } }
        return inspected.messages.ready.map((message) =>
          message.body
        )
      }),
      setReachable: (reachable) =>
        Effect.sync(() => {
          reachability.reachable = reachable
        }),
      settings: {
        queueUrl,
        region: REGION,
        endpoint,
        credentials: {
          accessKeyId: Redacted.make(LOCAL_CREDENTIALS.accessKeyId),
          secretAccessKey: Redacted.make(LOCAL_CREDENTIALS.secretAccessKey)
        },
        waitSeconds: 1,
        visibilitySeconds: 1,
        maxMessages: 10,
        callTimeout: SQS_CALL_TIMEOUT
      },
      depth: (url) =>
        send(() =>
          client.send(
            new GetQueueAttributesCommand({
              QueueUrl: url,
              AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            })
          )
        ).pipe(Effect.map((out) => ({
          visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? "0"),
          inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? "0")
        }))),
      peek: (url, visibilitySeconds = 30) =>
        send(() =>
          client.send(
            new ReceiveMessageCommand({
              QueueUrl: url,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: 0,
              VisibilityTimeout: visibilitySeconds,
              MessageAttributeNames: ["All"],
              MessageSystemAttributeNames: ["ApproximateReceiveCount"]
            })
          )
        ).pipe(Effect.map((out) => out.Messages ?? []))
    }
  })
)

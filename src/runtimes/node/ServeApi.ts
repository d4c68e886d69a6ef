// `npm run serve`: the HTTP API on the production adapters (SQS, DynamoDB, S3), with readiness checks on the
// queue and both tables. A composition of layers and nothing else; its settings are read with `Config`.
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs"
import { GetCommand } from "@aws-sdk/lib-dynamodb"
import { Config, Effect, Layer } from "effect"
import { AuthenticationJwt } from "../../adapters/auth/JwtAuthentication.js"
import { JwtVerifier } from "../../adapters/auth/JwtVerifier.js"
import { DynamoDb } from "../../adapters/dynamodb/DynamoDb.js"
import { InAppNotifierDynamoDb } from "../../adapters/dynamodb/DynamoDbInAppNotifier.js"
import { JobStoreDynamoDb } from "../../adapters/dynamodb/DynamoDbJobStore.js"
import { ApiNodeServerLive } from "../../adapters/http/ApiNodeServer.js"
import { ReadinessChecks } from "../../adapters/http/HealthHttp.js"
import { S3FileStoreLive } from "../../adapters/s3/S3FileStore.js"
import { sqsCall, SqsClient, SqsLive, SqsSettings } from "../../adapters/sqs/SqsClient.js"
import { SqsJobQueue } from "../../adapters/sqs/SqsJobQueue.js"
import { ExportSettings } from "../../application/ExportSettings.js"
import { JobIds } from "../../application/JobIds.js"

/** Where the API listens: PORT (3000) and HOST (0.0.0.0, as a container expects). */
export const listenConfig = Config.all({
  port: Config.port("PORT").pipe(Config.withDefault(3000)),
  host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0"))
})

// A key no item has: a GetItem on it reads nothing but proves the table, the credentials and the network.
const PROBE_KEY = "readiness-probe"

/** One cheap call per dependency the API cannot answer without: both tables and the queue. */
const readiness = Layer.effect(
  ReadinessChecks,
  Effect.gen(function*() {
    const db = yield* DynamoDb
    const sqs = yield* SqsClient
    const { queueUrl } = yield* SqsSettings
    return [
      {
        name: "jobs",
        check: db.call(
          "GetItem",
          (documents, options) =>
            documents.send(new GetCommand({ TableName: db.tables.jobs, Key: { jobId: PROBE_KEY } }), options)
        )
      },
      {
        name: "notifications",
        check: db.call(
          "GetItem",
          (documents, options) =>
            documents.send(new GetCommand({ TableName: db.tables.notifications, Key: { id: PROBE_KEY } }), options)
        )
      },
      {
        name: "queue",
        check: sqsCall(
          "GetQueueAttributes",
          (abortSignal) =>
            sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }), {
              abortSignal
            })
        )
      }
    ]
  })
)

const api = Layer.unwrapEffect(Effect.map(listenConfig, ({ host, port }) => ApiNodeServerLive({ port, host })))

/** The API with every adapter it needs; a missing or malformed setting fails the build with its name. */
export const ServeApiLive = (() => {
  const clients = Layer.mergeAll(DynamoDb.layerConfig, SqsLive)
  const ports = Layer.mergeAll(JobStoreDynamoDb, InAppNotifierDynamoDb, SqsJobQueue, readiness).pipe(
    Layer.provideMerge(clients)
  )
  const adapters = Layer.mergeAll(ports, S3FileStoreLive, JobIds.Default, ExportSettings.layer)
  return api.pipe(
    Layer.provide(AuthenticationJwt),
    Layer.provide(JwtVerifier.layerConfig),
    Layer.provide(adapters)
  )
})()

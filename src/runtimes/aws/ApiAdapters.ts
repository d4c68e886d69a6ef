// The production adapters every API runtime answers on (the Node server and the Lambda function): jobs and
// notifications in DynamoDB, the SQS publisher, S3 or R2 for download links, readiness checks on the queue and
// both tables, and the report source for previews (ClickHouse over HTTP; `npm run serve` takes REPORT_SOURCE's). Kept apart from the runtimes so that a Lambda bundle imports these and no server of its own.
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs"
import { GetCommand } from "@aws-sdk/lib-dynamodb"
import { Effect, Layer } from "effect"
import * as ClickHouseReportSource from "../../adapters/clickhouse/ClickHouseReportSource.js"
import * as DynamoDb from "../../adapters/dynamodb/DynamoDb.js"
import * as DynamoDbAuditTrail from "../../adapters/dynamodb/DynamoDbAuditTrail.js"
import * as DynamoDbInAppNotifier from "../../adapters/dynamodb/DynamoDbInAppNotifier.js"
import * as DynamoDbJobStore from "../../adapters/dynamodb/DynamoDbJobStore.js"
import { ReadinessChecks } from "../../adapters/http/HealthHttp.js"
import * as HttpExportLinks from "../../adapters/http/HttpExportLinks.js"
import * as S3FileStore from "../../adapters/s3/S3FileStore.js"
import * as SqsClient from "../../adapters/sqs/SqsClient.js"
import * as SqsJobQueue from "../../adapters/sqs/SqsJobQueue.js"
import { ExportSettings } from "../../application/ExportSettings.js"
import { JobIds } from "../../application/JobIds.js"

// A key no item has: a GetItem on it reads nothing but proves the table, the credentials and the network.
const PROBE_KEY = "readiness-probe"

/** One cheap call per dependency the API cannot answer without: both tables and the queue. */
const readiness = Layer.effect(
  ReadinessChecks,
  Effect.gen(function*() {
    const db = yield* DynamoDb.DynamoDb
    const sqs = yield* SqsClient.SqsClient
    const { callTimeout, queueUrl } = yield* SqsClient.SqsSettings
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
        check: SqsClient.sqsCall(
          "GetQueueAttributes",
          callTimeout,
          (abortSignal) =>
            sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }), {
              abortSignal
            })
        )
      }
    ]
  })
)

/** Every port the API needs but its report source, each on its settings from `Config`; building them does no I/O. */
export const layerWithoutReportSource = (() => {
  const clients = Layer.mergeAll(DynamoDb.layerConfig, SqsClient.layerConfig)
  const ports = Layer.mergeAll(
    DynamoDbJobStore.layer,
    DynamoDbInAppNotifier.layer,
    DynamoDbAuditTrail.layer,
    SqsJobQueue.layer,
    readiness
  ).pipe(
    Layer.provideMerge(clients)
  )
  // The links a cancel's in-app notice leads to; the API's own paths, so APP_BASE_URL may be left unset here.
  const links = HttpExportLinks.layerConfigWithDefault()
  return Layer.mergeAll(ports, S3FileStore.layerConfig, JobIds.Default, ExportSettings.layer, links)
})()

/**
 * Every port the API needs, the report source (for previews, ADR 35) ClickHouse over HTTP (CLICKHOUSE_*), whose
 * client opens no connection until the first preview.
 */
export const layer = Layer.merge(layerWithoutReportSource, ClickHouseReportSource.layerConfig)

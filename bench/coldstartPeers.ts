// The peers of `npm run bench:coldstart`: for each Lambda function, a handler written the plain way that loads the
// same AWS SDK clients as the function and answers the same first event with the same calls to the same servers,
// and nothing else (no Effect, no validation, no logging). Bundled by the bench with the functions' esbuild options.
// Settings come from the same environment variables the functions read.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { S3Client } from "@aws-sdk/client-s3"
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager"
import { SESv2Client } from "@aws-sdk/client-sesv2"
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs"
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb"
import { getSignedUrl } from "@aws-sdk/s3-request-presigner"
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, SQSBatchResponse, SQSEvent } from "aws-lambda"
import { randomUUID } from "node:crypto"

const setting = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

const clientSettings = (prefix: string) => ({
  region: setting(`${prefix}_REGION`),
  endpoint: setting(`${prefix}_ENDPOINT`),
  credentials: {
    accessKeyId: setting(`${prefix}_ACCESS_KEY_ID`),
    secretAccessKey: setting(`${prefix}_SECRET_ACCESS_KEY`)
  }
})

const jobsTable = setting("DYNAMODB_JOBS_TABLE")
const documents = DynamoDBDocumentClient.from(new DynamoDBClient(clientSettings("DYNAMODB")))
const s3 = new S3Client({ ...clientSettings("S3"), forcePathStyle: true })

/** What both functions load besides: the presigner for download links, and Secrets Manager for SECRETS_ARN. */
export const loadedBesides = { s3, getSignedUrl, SecretsManagerClient }

/** The API's peer: a POST of an export is a query for the same export in progress, a put, and a message. */
export const apiPeer = () => {
  const sqs = new SQSClient(clientSettings("SQS"))
  const queueUrl = setting("SQS_QUEUE_URL")
  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const body = JSON.parse(event.body ?? "{}") as Record<string, unknown>
    const jobId = randomUUID()
    await documents.send(
      new QueryCommand({
        TableName: jobsTable,
        KeyConditionExpression: "jobId = :jobId",
        ExpressionAttributeValues: { ":jobId": jobId }
      })
    )
    await documents.send(
      new PutCommand({
        TableName: jobsTable,
        Item: { jobId, status: "Queued", ...body },
        ConditionExpression: "attribute_not_exists(jobId)"
      })
    )
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ jobId }) }))
    return { statusCode: 202, body: JSON.stringify({ jobId, status: "queued" }) }
  }
}

/** The worker's peer: a record of a finished export is one consistent read of its job, then acknowledged. */
export const workerPeer = () => {
  // Built at start, as the function builds its e-mail sender; a finished export's record sends nothing.
  new SESv2Client(clientSettings("SES"))
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    for (const record of event.Records) {
      const { jobId } = JSON.parse(record.body) as { jobId: string }
      await documents.send(new GetCommand({ TableName: jobsTable, Key: { jobId }, ConsistentRead: true }))
    }
    return { batchItemFailures: [] }
  }
}

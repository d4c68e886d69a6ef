// Each built bundle started as the synthesised stack configures its function, and nothing more: the function's
// `Environment` from the template, what the Lambda runtime itself sets, the template's tokens replaced by the local
// servers' addresses, and the secret's settings read through SECRETS_ARN as the function reads them. A setting a
// function needs that the stack does not give fails here, as it would fail the deployed function.
import { expect, layer } from "@effect/vitest"
import { App } from "aws-cdk-lib"
import { Template } from "aws-cdk-lib/assertions"
import { Code } from "aws-cdk-lib/aws-lambda"
import { Effect, Layer } from "effect"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { ExportsStack } from "../../../infra/ExportsStack.js"
import { NODE_MAJOR } from "../../../scripts/NodeTarget.js"
import { startContainer } from "../../support/LambdaContainer.js"
import { localServers } from "../../support/NodeStack.js"
import { ChdbHttpServer } from "../../support/servers/ChdbHttpServer.js"
import { DynaliteServer } from "../../support/servers/DynaliteServer.js"
import { FauxqsServer } from "../../support/servers/FauxqsServer.js"
import { S3RVER_ACCESS_KEY, S3rverServer } from "../../support/servers/S3rverServer.js"
import { SecretsManagerServer } from "../../support/servers/SecretsManagerServer.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"
import { httpEvent, sqsEvent, sqsRecord } from "./LambdaEvents.js"

const DIST = join(dirname(fileURLToPath(import.meta.url)), "../../../dist/lambda")
/** The region fauxqs keeps its queues in; the stack is deployed there. */
const REGION = "us-east-1"
/** The id API Gateway puts in `requestContext.apiId` of the events LambdaEvents makes. */
const API_ID = "abc123"

/** The secret's settings, as docs/deploy.md (step 5) tells the operator to put them. */
const SECRET = {
  S3_ACCESS_KEY_ID: S3RVER_ACCESS_KEY,
  S3_SECRET_ACCESS_KEY: S3RVER_ACCESS_KEY,
  CLICKHOUSE_USER: "exports_reader",
  CLICKHOUSE_PASSWORD: "reader-password",
  CLICKHOUSE_DATABASE: "analytics"
}

interface CfnResource {
  readonly Type: string
  readonly Properties: Record<string, unknown>
}

/** The stack as `cdk deploy` would synthesise it, with the local servers as its outside addresses. */
const synthesise = Effect.gen(function*() {
  const s3 = yield* S3rverServer
  const chdb = yield* ChdbHttpServer
  const stack = new ExportsStack(new App(), "Exports", {
    apiCode: Code.fromInline("export const handler = async () => ({})"),
    workerCode: Code.fromInline("export const handler = async () => ({})"),
    jwtIssuer: "https://id.example.test/",
    jwtAudience: ["exports-api"],
    storageEndpoint: s3.endpoint.href,
    bucket: s3.bucket,
    clickhouseUrl: chdb.url.href,
    sesIdentity: "example.test",
    emailFrom: "Exports <exports@example.test>",
    appBaseUrl: "https://app.example.test",
    env: { account: "123456789012", region: REGION }
  })
  return Template.fromStack(stack).toJSON()["Resources"] as Record<string, CfnResource>
})

/** What a `Ref` to each kind of resource the functions name stands for, here: the local servers' own names. */
const referencesOf = (resources: Record<string, CfnResource>) =>
  Effect.gen(function*() {
    const sqs = yield* FauxqsServer
    const dynamo = yield* DynaliteServer
    const secrets = yield* SecretsManagerServer
    return (logicalId: string): string => {
      const resource = resources[logicalId]
      const keysOf = () =>
        (resource?.Properties["KeySchema"] as Array<{ AttributeName: string }>).map((key) => key.AttributeName).join()
      switch (resource?.Type) {
        case "AWS::SQS::Queue":
          if (resource.Properties["RedrivePolicy"] !== undefined) return sqs.queueUrl
          break
        case "AWS::DynamoDB::GlobalTable":
          if (keysOf() === "jobId") return dynamo.settings.tables.jobs
          if (keysOf() === "id") return dynamo.settings.tables.notifications
          if (keysOf() === "jobId,entryId") return dynamo.settings.tables.audit
          break
        case "AWS::SecretsManager::Secret":
          return secrets.secretArn
        case "AWS::SES::ConfigurationSet":
          return "exports-emails"
        case "AWS::ApiGatewayV2::Api":
          return API_ID
      }
      throw new Error(
        `a function's environment refers to ${logicalId} (${resource?.Type}), which has no local stand-in`
      )
    }
  })

/** A template value with its tokens resolved; anything this cannot resolve fails the test. */
const resolve = (value: unknown, refer: (logicalId: string) => string): string => {
  if (typeof value === "string") return value
  const token = value as Record<string, unknown>
  if (typeof token["Ref"] === "string") return refer(token["Ref"])
  if (Array.isArray(token["Fn::Join"])) {
    const [separator, parts] = token["Fn::Join"] as [string, Array<unknown>]
    return parts.map((part) => resolve(part, refer)).join(separator)
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}`)
}

/**
 * The whole environment of the function whose logical id starts with `name`: the template's variables, what the
 * Lambda runtime sets, and where the AWS SDK finds the local servers instead of the region's endpoints.
 */
const environmentOf = (name: "Api" | "Worker") =>
  Effect.gen(function*() {
    const resources = yield* synthesise
    const refer = yield* referencesOf(resources)
    const [logicalId, lambda] = Object.entries(resources).find(([id, resource]) =>
      resource.Type === "AWS::Lambda::Function" && id.startsWith(name) && resource.Properties["Handler"] !== undefined
    )!
    const variables = (lambda.Properties["Environment"] as { Variables: Record<string, unknown> }).Variables
    const fromTemplate = Object.fromEntries(
      Object.entries(variables).map(([key, value]) => [key, resolve(value, refer)])
    )
    const dynamo = yield* DynaliteServer
    const sqs = yield* FauxqsServer
    const ses = yield* SesLocalServer
    const secrets = yield* SecretsManagerServer
    const functionName = `exports-${name.toLowerCase()}`
    expect(lambda.Properties["Runtime"]).toBe(`nodejs${NODE_MAJOR}.x`)
    const environment: Record<string, string> = {
      // What the Lambda runtime sets in every execution environment (the role's credentials among them).
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_ACCESS_KEY_ID: "ASIAEXAMPLEROLEKEY",
      AWS_SECRET_ACCESS_KEY: "role-secret",
      AWS_SESSION_TOKEN: "role-session-token",
      AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${NODE_MAJOR}.x`,
      AWS_LAMBDA_FUNCTION_NAME: functionName,
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(lambda.Properties["MemorySize"]),
      AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
      AWS_LAMBDA_LOG_STREAM_NAME: "2026/12/03/[$LATEST]0123456789abcdef",
      LAMBDA_TASK_ROOT: join(DIST, name.toLowerCase()),
      LAMBDA_RUNTIME_DIR: "/var/runtime",
      _HANDLER: String(lambda.Properties["Handler"]),
      TZ: ":UTC",
      LANG: "en_US.UTF-8",
      PATH: "/usr/local/bin:/usr/bin:/bin",
      // The network's part: the SDK's own endpoint variables send each service's calls to its local server.
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_SESV2: ses.endpoint.href,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint.href,
      ...fromTemplate
    }
    return {
      environment,
      timeoutMillis: Number(lambda.Properties["Timeout"]) * 1000,
      logicalId
    }
  })

const servers = Layer.mergeAll(localServers, ChdbHttpServer.layer(), SecretsManagerServer.layer(SECRET))

const exportBody = JSON.stringify({
  reportType: "orders",
  format: "csv",
  dateFrom: "2025-01-01",
  dateTo: "2025-01-31",
  timezone: "Europe/Paris"
})

const acme = { sub: "stack-user", merchant_id: "m-acme", email: "stack-user@example.test" }

interface HttpResult {
  readonly statusCode: number
  readonly body: string
}

layer(servers, { timeout: 60_000 })("each bundle on the synthesised stack's own settings", (it) => {
  it.scoped(
    "the API answers 401 without claims, 202 with them and a preview from ClickHouse; the worker runs the job it queued",
    () =>
      Effect.gen(function*() {
        const apiSettings = yield* environmentOf("Api")
        const workerSettings = yield* environmentOf("Worker")
        const api = yield* startContainer(join(DIST, "api", "index.mjs"), apiSettings.environment)
        const worker = yield* startContainer(join(DIST, "worker", "index.mjs"), workerSettings.environment)
        const call = (event: unknown) =>
          Effect.map(api.invoke(event, apiSettings.timeoutMillis), (result) => result as HttpResult)

        const unauthenticated = yield* call(httpEvent({
          method: "POST",
          rawPath: "/api/v1/reports/export",
          headers: { "content-type": "application/json" },
          body: exportBody
        }))
        expect(unauthenticated.statusCode, yield* api.logs).toBe(401)

        const accepted = yield* call(httpEvent({
          method: "POST",
          rawPath: "/api/v1/reports/export",
          headers: { "content-type": "application/json" },
          body: exportBody,
          claims: acme
        }))
        expect(accepted.statusCode, yield* api.logs).toBe(202)
        const { jobId } = JSON.parse(accepted.body) as { readonly jobId: string }

        // A preview reads ClickHouse from the API function, on the stack's CLICKHOUSE_URL and the secret's user.
        const preview = yield* call(httpEvent({
          rawPath: "/api/v1/reports/orders/preview",
          rawQueryString: "dateFrom=2025-01-01&dateTo=2025-01-31&timezone=Europe%2FParis",
          claims: acme
        }))
        expect(preview.statusCode, yield* api.logs).toBe(200)
        const { more, rows } = JSON.parse(preview.body) as {
          rows: ReadonlyArray<ReadonlyArray<unknown>>
          more: boolean
        }
        expect(rows).toHaveLength(100)
        expect(more).toBe(true)
        expect(rows.filter((row) => !String(row[0]).startsWith("m-acme-"))).toStrictEqual([])
        const received = yield* Effect.flatMap(ChdbHttpServer, (chdb) => chdb.received)
        expect(received.find((query) => /LIMIT 101\b/.test(query.sql))?.params["merchantId"]).toBe("m-acme")
        // The development sign-in is the embedded server's alone.
        const devSession = yield* call(httpEvent({
          method: "POST",
          rawPath: "/api/dev/session",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ user: "u", merchant: "m-acme", email: "u@example.test" }),
          claims: acme
        }))
        expect(devSession.statusCode).toBe(404)

        // The message the API published, taken off the queue as the event source mapping would.
        const sqs = yield* FauxqsServer
        const messages = yield* sqs.peek(sqs.queueUrl, 600)
        const message = messages.find((m) => m.Body?.includes(jobId))
        expect(message, "the API published no message for its job").toBeDefined()

        const good = sqsRecord(message!.MessageId!, message!.Body!)
        const poison = sqsRecord("poison-record", "{not an export message")
        const batch = yield* worker.invoke(sqsEvent([good, poison]), workerSettings.timeoutMillis)
        expect(batch, yield* worker.logs).toStrictEqual({ batchItemFailures: [{ itemIdentifier: "poison-record" }] })

        const status = yield* call(httpEvent({ rawPath: `/api/v1/reports/exports/${jobId}`, claims: acme }))
        expect(status.statusCode).toBe(200)
        expect(JSON.parse(status.body)).toMatchObject({ jobId, status: "succeeded" })
        // Both functions read the credentials from the secret the stack names, once each, while initialising.
        expect(yield* Effect.flatMap(SecretsManagerServer, (secrets) => secrets.asked)).toStrictEqual([
          apiSettings.environment["SECRETS_ARN"],
          workerSettings.environment["SECRETS_ARN"]
        ])
      }),
    120_000
  )
})

// The functions on the custom runtime as `npm run build` writes them (dist/lambda/<function>-snapshot, ADR 52):
// `bootstrap` started as Lambda starts it, the pinned Node on the startup snapshot, against a fake Runtime API on
// 127.0.0.1 and the local DynamoDB, SQS and S3 servers. The blob was built with no settings at all: every setting
// here is read after deserialisation, and what is random in one container is not in the next.
import { describe, expect, it } from "@effect/vitest"
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { SNAPSHOT_FILES } from "../../../scripts/LambdaSnapshot.js"
import { lambdaProcessEnvironment } from "../../../src/runtimes/lambda/LambdaProcessSettings.js"
import { localServers, localSettings } from "../../support/NodeStack.js"
import { FauxqsServer } from "../../support/servers/FauxqsServer.js"
import { startFakeRuntimeApi } from "./FakeRuntimeApi.js"
import { httpEvent } from "./LambdaEvents.js"

const DIST = join(dirname(fileURLToPath(import.meta.url)), "../../../dist/lambda")
const API_ID = "abc123"
const acme = { sub: "snapshot-user", merchant_id: "m-acme", email: "snapshot-user@example.test" }

/**
 * A container of the API: its bootstrap on a fake Runtime API, `events` invoked one after the other, their answers.
 * The process is stopped at the end, as Lambda freezes and later ends a container.
 */
const runContainer = (settings: Map<string, string>, events: ReadonlyArray<unknown>) =>
  Effect.promise(async () => {
    const api = await startFakeRuntimeApi()
    const root = join(DIST, "api-snapshot")
    const child = spawn(join(root, SNAPSHOT_FILES.bootstrap), [], {
      env: {
        ...Object.fromEntries(settings),
        ...lambdaProcessEnvironment("api"),
        CLICKHOUSE_URL: "http://127.0.0.1:9/",
        LAMBDA_TASK_ROOT: root,
        AWS_LAMBDA_RUNTIME_API: api.address,
        AWS_LAMBDA_FUNCTION_NAME: "exports-api"
      },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let errors = ""
    child.stderr.on("data", (chunk: Buffer) => (errors += chunk.toString("utf8")))
    try {
      const answers: Array<APIGatewayProxyStructuredResultV2 & { json: Record<string, unknown> }> = []
      for (const [i, event] of events.entries()) {
        api.enqueue({ requestId: `req-${i}`, event })
        const post = (await api.posts(i + 1))[i]!
        expect(post.path, errors).toBe(`/2018-06-01/runtime/invocation/req-${i}/response`)
        const answer = JSON.parse(post.body) as APIGatewayProxyStructuredResultV2
        answers.push({ ...answer, json: JSON.parse(answer.body ?? "null") as Record<string, unknown> })
      }
      return answers
    } finally {
      child.kill("SIGKILL")
      await api.close()
    }
  })

describe("the functions started from their startup snapshots", () => {
  it.live(
    "the API: settings read at start (a base path the build never saw), 202 for an export, then its status",
    () =>
      Effect.gen(function*() {
        const sqs = yield* FauxqsServer
        const settings = yield* localSettings({
          AUTH_TRUST_GATEWAY: "true",
          AUTH_GATEWAY_API_ID: API_ID,
          AUTH_GATEWAY_STAGE: "$default",
          API_BASE_PATH: "exports"
        })
        const [accepted] = yield* runContainer(settings, [
          httpEvent({
            method: "POST",
            rawPath: "/exports/api/v1/reports/export",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              reportType: "orders",
              format: "csv",
              dateFrom: "2025-01-01",
              dateTo: "2025-01-31",
              timezone: "Europe/Paris"
            }),
            claims: acme
          })
        ])
        expect(accepted!.statusCode).toBe(202)
        expect(accepted!.json).toMatchObject({ status: "queued" })
        expect(yield* sqs.depth(sqs.queueUrl)).toStrictEqual({ visible: 1, inFlight: 0 })
        const jobId = String(accepted!.json["jobId"])
        const [status] = yield* runContainer(settings, [
          httpEvent({ rawPath: `/exports/api/v1/reports/exports/${jobId}`, claims: acme })
        ])
        expect(status!.statusCode).toBe(200)
        expect(status!.json).toMatchObject({ jobId, status: "queued" })
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    60_000
  )

  it.live(
    "two containers from the same blob make different request ids (no random state was built into it)",
    () =>
      Effect.gen(function*() {
        const settings = yield* localSettings({ AUTH_TRUST_GATEWAY: "true", AUTH_GATEWAY_API_ID: API_ID })
        const health = httpEvent({ rawPath: "/health" })
        const first = yield* runContainer(settings, [health, health])
        const second = yield* runContainer(settings, [health, health])
        const ids = [...first, ...second].map((answer) => answer.headers?.["x-request-id"])
        for (const answer of [...first, ...second]) expect(answer.statusCode).toBe(200)
        expect(new Set(ids).size).toBe(4)
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    60_000
  )
})

// The API bundle `npm run build` writes (dist/lambda/api/index.mjs, not the sources), invoked with API Gateway
// HTTP API events as Lambda would, on the local DynamoDB, SQS and S3 servers: trusting the gateway's JWT authorizer
// behind a custom domain's base path, and verifying tokens itself.
import { describe, expect, it } from "@effect/vitest"
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda"
import { Duration, Effect, Redacted } from "effect"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { signDevToken } from "../../../src/adapters/auth/JwtVerifier.js"
import { JWT_SECRET, localServers, localSettings } from "../../support/NodeStack.js"
import { FauxqsServer } from "../../support/servers/FauxqsServer.js"
import { withTamperedJwtSignature } from "../../support/Tampering.js"
import { httpEvent } from "./LambdaEvents.js"

const BUNDLE = join(dirname(fileURLToPath(import.meta.url)), "../../../dist/lambda/api/index.mjs")

type Handler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>

/**
 * A fresh instance of the bundle on `settings` as its environment, without the `unset` variables an earlier test
 * set: each import URL is a module of its own, so each test gets a container of its own, as a new Lambda execution
 * environment would. Fails as the function's initialisation would.
 */
const tryLoadBundle = (settings: Map<string, string>, instance: string, unset: ReadonlyArray<string> = []) =>
  Effect.tryPromise(async () => {
    // Previews read ClickHouse (tested on the stack's settings in StackShapedStart.test.ts); none is asked for here,
    // and the client connects only when one is.
    process.env["CLICKHOUSE_URL"] = "http://127.0.0.1:9/"
    for (const [name, value] of settings) process.env[name] = value
    for (const name of unset) delete process.env[name]
    const module = (await import(`${pathToFileURL(BUNDLE).href}?${instance}`)) as { handler: Handler }
    return module.handler
  })

const loadBundle = (settings: Map<string, string>, instance: string) => Effect.orDie(tryLoadBundle(settings, instance))

const invoke = (handler: Handler, event: APIGatewayProxyEventV2) =>
  Effect.promise(() => handler(event)).pipe(
    Effect.map((result) => ({ ...result, json: JSON.parse(result.body || "null") as Record<string, unknown> }))
  )

const exportBody = JSON.stringify({
  reportType: "orders",
  format: "csv",
  dateFrom: "2025-01-01",
  dateTo: "2025-01-31",
  timezone: "Europe/Paris"
})

const acme = { sub: "lambda-user", merchant_id: "m-acme", email: "lambda-user@example.test" }

/** The HTTP API the trusting function is set up for: LambdaEvents' default. */
const API_ID = "abc123"

describe("the API bundle in Lambda", () => {
  it.live(
    "behind the gateway's authorizer and a base path: 202, the job's status, and a message on the queue",
    () =>
      Effect.gen(function*() {
        const sqs = yield* FauxqsServer
        const settings = yield* localSettings({
          AUTH_TRUST_GATEWAY: "true",
          AUTH_GATEWAY_API_ID: API_ID,
          AUTH_GATEWAY_STAGE: "$default",
          API_BASE_PATH: "exports"
        })
        const handler = yield* loadBundle(settings, "trusting")

        const accepted = yield* invoke(
          handler,
          httpEvent({
            method: "POST",
            rawPath: "/exports/api/v1/reports/export",
            headers: { "content-type": "application/json" },
            body: exportBody,
            claims: acme
          })
        )
        expect(accepted.statusCode).toBe(202)
        expect(accepted.json).toMatchObject({ status: "queued" })
        const jobId = String(accepted.json["jobId"])
        expect(accepted.headers?.["location"]).toBe(`/api/v1/reports/exports/${jobId}`)
        expect(yield* sqs.depth(sqs.queueUrl)).toStrictEqual({ visible: 1, inFlight: 0 })

        const status = yield* invoke(
          handler,
          httpEvent({ rawPath: `/exports/api/v1/reports/exports/${jobId}`, claims: acme })
        )
        expect(status.statusCode).toBe(200)
        expect(status.json).toMatchObject({ jobId, status: "queued" })

        // Another merchant's user does not see the job; a request the authorizer did not pass is refused.
        const globex = { sub: "other-user", merchant_id: "m-globex", email: "other@example.test" }
        const hidden = yield* invoke(
          handler,
          httpEvent({ rawPath: `/exports/api/v1/reports/exports/${jobId}`, claims: globex })
        )
        expect(hidden.statusCode).toBe(404)
        const unauthorised = yield* invoke(handler, httpEvent({ rawPath: "/exports/api/v1/reports/exports" }))
        expect(unauthorised.statusCode).toBe(401)
        expect(unauthorised.json).toMatchObject({ error: { code: "unauthorized" } })

        // Claims in an event of another API or stage, as a direct invoker could write them, are not believed: 401,
        // and nothing queued; the same claims from the trusted API and stage are served, as above.
        const forged: ReadonlyArray<{ apiId: string; stage?: string; prefix: string }> = [
          { apiId: "another-api", prefix: "" },
          { apiId: API_ID, stage: "prod", prefix: "/prod" }
        ]
        for (const { prefix, ...origin } of forged) {
          const refused = yield* invoke(
            handler,
            httpEvent({
              ...origin,
              method: "POST",
              rawPath: `${prefix}/exports/api/v1/reports/export`,
              headers: { "content-type": "application/json" },
              body: exportBody,
              claims: acme
            })
          )
          expect(refused.statusCode).toBe(401)
          expect(refused.json).toMatchObject({ error: { code: "unauthorized" } })
          expect(refused.headers?.["www-authenticate"]).toContain("Bearer")
        }
        expect(yield* sqs.depth(sqs.queueUrl)).toStrictEqual({ visible: 1, inFlight: 0 })

        // A client's mistake is a 400 naming the field, never a 500.
        const invalid = yield* invoke(
          handler,
          httpEvent({
            method: "POST",
            rawPath: "/exports/api/v1/reports/export",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ reportType: "orders", format: "csv", dateFrom: "2025-02-01", dateTo: "2025-01-01" }),
            claims: acme
          })
        )
        expect(invalid.statusCode).toBe(400)
        expect(JSON.stringify(invalid.json)).toContain("dateTo")

        const health = yield* invoke(handler, httpEvent({ rawPath: "/exports/health" }))
        expect(health.statusCode).toBe(200)
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    { timeout: 60_000 }
  )

  it.live(
    "export again and conditional GETs: 202 for an export the queue refused, 409 in progress, 404 for another " +
      "merchant, and 304 on If-None-Match",
    () =>
      Effect.gen(function*() {
        const sqs = yield* FauxqsServer
        const trusting = { AUTH_TRUST_GATEWAY: "true", AUTH_GATEWAY_API_ID: API_ID, AUTH_GATEWAY_STAGE: "$default" }
        // A queue that does not exist refuses the message: the job is recorded and failed, as ADR 5 has it.
        const refusing = yield* loadBundle(
          yield* localSettings({ ...trusting, SQS_QUEUE_URL: `${sqs.queueUrl}-missing` }),
          "refusing"
        )
        const post = { method: "POST", headers: { "content-type": "application/json" }, claims: acme } as const
        const refused = yield* invoke(
          refusing,
          httpEvent({ ...post, rawPath: "/api/v1/reports/export", body: exportBody })
        )
        expect(refused.statusCode).toBe(503)
        const listed = yield* invoke(refusing, httpEvent({ rawPath: "/api/v1/reports/exports", claims: acme }))
        const failed = String((listed.json["items"] as ReadonlyArray<{ jobId: string }>)[0]?.jobId)

        const handler = yield* loadBundle(yield* localSettings(trusting), "again")
        const again = yield* invoke(
          handler,
          httpEvent({ ...post, rawPath: `/api/v1/reports/exports/${failed}/retry` })
        )
        expect(again.statusCode).toBe(202)
        const jobId = String(again.json["jobId"])
        expect(jobId).not.toBe(failed)
        expect(again.headers?.["location"]).toBe(`/api/v1/reports/exports/${jobId}`)
        expect(yield* sqs.depth(sqs.queueUrl)).toStrictEqual({ visible: 1, inFlight: 0 })

        const inProgress = yield* invoke(
          handler,
          httpEvent({ ...post, rawPath: `/api/v1/reports/exports/${jobId}/retry` })
        )
        expect(inProgress.statusCode).toBe(409)
        expect(inProgress.json).toMatchObject({ error: { code: "export_not_retryable" } })
        const globex = { sub: "other-user", merchant_id: "m-globex", email: "other@example.test" }
        const hidden = yield* invoke(
          handler,
          httpEvent({ ...post, rawPath: `/api/v1/reports/exports/${failed}/retry`, claims: globex })
        )
        expect(hidden.statusCode).toBe(404)

        const status = yield* invoke(handler, httpEvent({ rawPath: `/api/v1/reports/exports/${jobId}`, claims: acme }))
        expect(status.statusCode).toBe(200)
        const etag = String(status.headers?.["etag"])
        expect(status.headers?.["cache-control"]).toBe("private, no-cache")
        const unchanged = yield* invoke(
          handler,
          httpEvent({ rawPath: `/api/v1/reports/exports/${jobId}`, headers: { "if-none-match": etag }, claims: acme })
        )
        expect(unchanged.statusCode).toBe(304)
        expect(unchanged.body ?? "").toBe("")
        expect(unchanged.headers?.["etag"]).toBe(etag)
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    { timeout: 60_000 }
  )

  it.live(
    "verifying tokens itself when the gateway is not trusted: a forged token is a 401",
    () =>
      Effect.gen(function*() {
        const settings = yield* localSettings({ AUTH_TRUST_GATEWAY: "false" })
        const handler = yield* loadBundle(settings, "verifying")
        const token = yield* Effect.promise(() =>
          signDevToken({
            secret: Redacted.make(JWT_SECRET),
            sub: acme.sub,
            merchantId: acme.merchant_id,
            email: acme.email,
            ttl: Duration.hours(1)
          })
        )
        const post = (authorization: string) =>
          invoke(
            handler,
            httpEvent({
              method: "POST",
              rawPath: "/api/v1/reports/export",
              headers: { "content-type": "application/json", authorization },
              body: exportBody,
              // Claims the function must not trust in this mode.
              claims: acme
            })
          )
        expect((yield* post(`Bearer ${token}`)).statusCode).toBe(202)
        const forged = yield* post(`Bearer ${withTamperedJwtSignature(token)}`)
        expect(forged.statusCode).toBe(401)
        expect(forged.headers?.["www-authenticate"]).toContain("Bearer")
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    { timeout: 60_000 }
  )

  it.live(
    "refuses to start trusting the gateway without AUTH_GATEWAY_API_ID, naming it",
    () =>
      Effect.gen(function*() {
        const settings = yield* localSettings({ AUTH_TRUST_GATEWAY: "true" })
        const failure = yield* Effect.flip(tryLoadBundle(settings, "trusting-anyone", ["AUTH_GATEWAY_API_ID"]))
        expect(String(failure.error)).toContain("AUTH_GATEWAY_API_ID")
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    { timeout: 60_000 }
  )
})

// Boots the `npm run serve` and `npm run worker` compositions in this process on local stand-ins for the production
// services (s3rver, fauxqs, aws-ses-v2-local, dynalite) with their settings from a ConfigProvider, and runs an export
// end to end over HTTP: 202, SQS, the worker on chdb, the file in S3, the presigned link, the email, the notice.
import { describe, expect, it } from "@effect/vitest"
import { Cause, ConfigError, ConfigProvider, Effect, Exit, Layer } from "effect"
import { CONTENT_SECURITY_POLICY } from "../../../src/adapters/http/WebAppRoute.js"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import * as ServeApi from "../../../src/runtimes/node/ServeApi.js"
import * as Worker from "../../../src/runtimes/node/Worker.js"
import { expectOrdersCsvAsQueried } from "../../support/EndToEnd.js"
import {
  apiBase,
  apiClient,
  bearerFor,
  emailsTo,
  fetchJson,
  localServers,
  localSettings,
  startApi,
  startWorker,
  waitForExport
} from "../../support/NodeStack.js"
import { FauxqsServer } from "../../support/servers/FauxqsServer.js"
import { S3rverServer } from "../../support/servers/S3rverServer.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"
import { fixtureBuild, INDEX } from "../../support/WebAppBuild.js"

const RECIPIENT = "serve-and-worker@example.test"

describe("npm run serve and npm run worker compositions", () => {
  it.live(
    "export over HTTP through SQS, DynamoDB, chdb, S3 and SES, and the CSV holds exactly the rows the query gives",
    () =>
      Effect.gen(function*() {
        const s3 = yield* S3rverServer
        const sqs = yield* FauxqsServer
        const ses = yield* SesLocalServer
        const web = yield* fixtureBuild
        const settings = yield* localSettings({ WEB_APP_DIR: web.root })
        const base = apiBase(settings)
        yield* startApi(settings)
        const worker = yield* startWorker(settings)

        // The web app in WEB_APP_DIR, at / and its own routes, beside the API (ADR 36).
        for (const path of ["/", "/exports/01900000-0000-7000-8000-000000000001"]) {
          const page = yield* Effect.promise(() =>
            fetch(`${base}${path}`, { headers: { accept: "text/html" } }).then(async (r) => ({
              status: r.status,
              csp: r.headers.get("content-security-policy"),
              text: await r.text()
            }))
          )
          expect(page).toStrictEqual({ status: 200, csp: CONTENT_SECURITY_POLICY, text: INDEX })
        }

        const auth = yield* bearerFor({ sub: "node-user", merchantId: "m-acme", email: RECIPIENT })
        const api = apiClient(settings, auth)

        const ready = yield* fetchJson(`${base}/ready`)
        expect({ status: ready.status, body: ready.body }).toStrictEqual({
          status: 200,
          body: { status: "ready", checks: { jobs: "ok", notifications: "ok", queue: "ok" } }
        })

        const body = {
          reportType: "orders",
          format: "csv",
          dateFrom: "2025-01-01",
          dateTo: "2025-06-30",
          timezone: "Europe/Paris"
        }
        const accepted = yield* api.requestExport(body)
        expect(accepted.status).toBe(202)
        const { jobId, statusUrl } = accepted.body

        const status = yield* waitForExport(api, jobId, (view) => view.status !== "queued" && view.status !== "running")
        expect(status.status).toBe("succeeded")

        // The API signs a short link at click time; it points at the bucket and works.
        const link = yield* fetchJson<{ url: string; expiresAt: string }>(`${base}${statusUrl}/download`, {
          headers: { ...auth, accept: "application/json" }
        })
        expect(link.status).toBe(200)
        expect(link.body.url.startsWith(`${s3.endpoint.origin}/${s3.bucket}/`)).toBe(true)
        const csv = yield* Effect.promise(() =>
          fetch(link.body.url).then(async (r) => {
            expect(r.status).toBe(200)
            return r.text()
          })
        )
        // The same report queried directly on the worker's engine, apart from the export's streaming path.
        const rows = yield* expectOrdersCsvAsQueried(csv, body, "m-acme").pipe(Effect.provide(worker))
        expect(rows.length).toBe(status.file?.rowCount)
        expect(rows.length).toBeGreaterThan(1000)

        // The preview reads REPORT_SOURCE's source from the API process: the file's first rows, the same order.
        const preview = yield* fetchJson<{ rows: ReadonlyArray<ReadonlyArray<unknown>>; more: boolean }>(
          `${base}/api/v1/reports/orders/preview?dateFrom=2025-01-01&dateTo=2025-06-30&timezone=Europe%2FParis`,
          { headers: auth }
        )
        expect(preview.status).toBe(200)
        expect(preview.body.more).toBe(true)
        expect(preview.body.rows.map((row) => [row[0], row[1]])).toStrictEqual(
          rows.slice(0, 100).map((row) => [row[0], Number(row[1])])
        )

        // Told both ways, once: one email through SES with the 24-hour link, one in-app notice.
        const emails = yield* emailsTo(ses, EmailAddress.make(RECIPIENT))
        expect(emails).toHaveLength(1)
        const emailLink = /https?:\/\/\S+/.exec(emails[0]!.body.text ?? "")?.[0]
        expect(emailLink?.startsWith(`${s3.endpoint.origin}/${s3.bucket}/`)).toBe(true)
        const fromEmail = yield* Effect.promise(() => fetch(emailLink!).then((r) => r.text()))
        expect(fromEmail).toBe(csv)
        const notifications = yield* api.notifications
        expect(notifications.map((n) => n.jobId)).toStrictEqual([jobId])

        // The message was deleted once handled; nothing went to the dead-letter queue.
        expect(yield* sqs.depth(sqs.queueUrl)).toStrictEqual({ visible: 0, inFlight: 0 })
        expect(yield* sqs.depth(sqs.dlqUrl)).toStrictEqual({ visible: 0, inFlight: 0 })
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    { timeout: 60_000 }
  )

  /** Builds a composition on `settings` alone and gives back its start-up failures, which must be ConfigErrors. */
  const startUpFailures = <A, E>(live: Layer.Layer<A, E>, settings: ReadonlyArray<readonly [string, string]>) =>
    Layer.build(live).pipe(
      Effect.scoped,
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(settings))),
      Effect.exit,
      Effect.map((exit) => {
        expect(Exit.isFailure(exit)).toBe(true)
        const cause = Exit.isFailure(exit) ? exit.cause : Cause.empty
        expect(Cause.isDie(cause)).toBe(false)
        const failures = Array.from(Cause.failures(cause))
        expect(failures.every((failure) => ConfigError.isConfigError(failure))).toBe(true)
        return failures.map(String).join("\n")
      })
    )

  it.live("REPORT_SOURCE picks the source whose settings start-up then requires, naming them", () =>
    Effect.gen(function*() {
      const clickhouse = yield* startUpFailures(Worker.layer, [
        ["REPORT_SOURCE", "clickhouse"],
        ["CLICKHOUSE_URL", "ftp://clickhouse.example.test"],
        ["CLICKHOUSE_MAX_CONNECTIONS", "0"]
      ])
      expect(clickhouse).toMatch(/CLICKHOUSE_URL.*must be an http\(s\) URL/)
      expect(clickhouse).toMatch(/CLICKHOUSE_MAX_CONNECTIONS/)
      expect(clickhouse).not.toContain("CHDB_DATA_DIR")
      const chdb = yield* startUpFailures(Worker.layer, [["REPORT_SOURCE", "chdb"]])
      expect(chdb).toContain("CHDB_DATA_DIR")
      expect(chdb).not.toContain("CLICKHOUSE_URL")
      const unknown = yield* startUpFailures(Worker.layer, [["REPORT_SOURCE", "postgres"]])
      expect(unknown).toContain("REPORT_SOURCE")
    }))

  it.live("a malformed or missing setting stops start-up with its name, as a ConfigError", () =>
    Effect.gen(function*() {
      const worker = yield* startUpFailures(Worker.layer, [["WORKER_CONCURRENCY", "0"], ["SHUTDOWN_GRACE", "1 second"]])
      expect(worker).toMatch(/WORKER_CONCURRENCY.*must be an integer from 1 to 16/)
      // Every missing setting is named at once, before anything is opened.
      for (const name of ["SQS_QUEUE_URL", "DYNAMODB_REGION", "S3_BUCKET", "SES_FROM", "REPORT_SOURCE"]) {
        expect(worker).toContain(name)
      }
      const grace = yield* startUpFailures(Worker.layer, [["SHUTDOWN_GRACE", "soon"]])
      expect(grace).toContain("SHUTDOWN_GRACE")
      const serve = yield* startUpFailures(ServeApi.layer, [["PORT", "not-a-port"], ["AUTH_JWT_SECRET", "short"]])
      expect(serve).toMatch(/S3_BUCKET|DYNAMODB_REGION|SQS_QUEUE_URL|PORT|AUTH_JWT_SECRET|REPORT_SOURCE/)
      // The API reads reports too, for previews: REPORT_SOURCE and its settings, as the worker does.
      const serveSource = yield* startUpFailures(ServeApi.layer, [["REPORT_SOURCE", "postgres"]])
      expect(serveSource).toContain("REPORT_SOURCE")
    }))
})

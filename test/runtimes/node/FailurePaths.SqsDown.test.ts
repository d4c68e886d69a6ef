// SQS unreachable when an export is requested, through the `npm run serve` and `npm run worker` compositions on the
// local servers: the request is refused with 503 and Retry-After, the refused job is closed as ADR 5 promises
// (Failed, "never started", no email), and once SQS is back a new request is accepted and runs.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import {
  apiClient,
  bearerFor,
  emailsTo,
  eventually,
  localServers,
  localSettings,
  startApi,
  startWorker,
  waitForExport
} from "../../support/NodeStack.js"
import { FauxqsServer } from "../../support/servers/FauxqsServer.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"

const RECIPIENT = "sqs-down@example.test"
const USER = { sub: "sqs-down-user", merchantId: "m-acme", email: RECIPIENT }
const QUARTER = { reportType: "orders", format: "csv", dateFrom: "2025-01-01", dateTo: "2025-03-31" }

describe("SQS down at request time", () => {
  it.live(
    "POST answers 503 with Retry-After, the refused job is failed and never run, and a POST after recovery works",
    () =>
      Effect.gen(function*() {
        const sqs = yield* FauxqsServer
        const ses = yield* SesLocalServer
        const settings = yield* localSettings()
        yield* startApi(settings)
        const api = apiClient(settings, yield* bearerFor(USER))

        yield* sqs.setReachable(false)
        const started = Date.now()
        const refused = yield* api.requestExport(QUARTER)
        // Within the SQS call limit (SQS_CALL_TIMEOUT, 5 s) plus the API's own work: the client is not left hanging.
        expect(Date.now() - started).toBeLessThan(8_000)
        expect(refused.status).toBe(503)
        expect(refused.headers.get("retry-after")).toMatch(/^[1-9][0-9]*$/)
        expect(refused.body).toStrictEqual({
          error: {
            code: "queue_unavailable",
            message: "Exports cannot be started right now. Please retry in a minute."
          },
          requestId: refused.headers.get("x-request-id")
        })

        // ADR 5: nothing is left queued. The refused export is in the caller's list as failed, saying it never
        // started; the user already had the error, so no notification of any kind follows.
        const afterRefusal = yield* api.exports
        expect(afterRefusal.map((job) => [job.status, job.attempts, job.failure])).toStrictEqual([[
          "failed",
          0,
          {
            reason: "QueueUnavailable",
            message: "The export service is busy. Your export was not started; please try again in a minute.",
            retryable: true
          }
        ]])
        const refusedJobId = afterRefusal[0]!.jobId

        // SQS is back: the same request is accepted as a new export, which a worker runs to the end.
        yield* sqs.setReachable(true)
        yield* startWorker(settings)
        const accepted = yield* api.requestExport(QUARTER)
        expect(accepted.status).toBe(202)
        expect(accepted.body.jobId).not.toBe(refusedJobId)
        const done = yield* waitForExport(api, accepted.body.jobId, (v) => v.status === "succeeded")
        expect(done.attempts).toBe(1)

        // The refused job stayed as it was; only the accepted one was ever told about.
        expect(yield* api.exportOf(refusedJobId)).toMatchObject({ status: "failed", attempts: 0 })
        const notices = yield* eventually(api.notifications, (items) => items.length > 0)
        expect(notices.map((n) => [n.jobId, n.kind])).toStrictEqual([[accepted.body.jobId, "export_succeeded"]])
        const emails = yield* emailsTo(ses, EmailAddress.make(RECIPIENT))
        expect(emails.map((email) => email.subject)).toStrictEqual([
          "Your export is ready: Orders (2025-01-01 to 2025-03-31) as CSV"
        ])
        expect((yield* api.exports).map((job) => [job.jobId, job.status])).toStrictEqual([
          [accepted.body.jobId, "succeeded"],
          [refusedJobId, "failed"]
        ])

        // The accepted message was handled; nothing waits on the queue or went to the dead-letter queue.
        const depth = yield* eventually(sqs.depth(sqs.queueUrl), (d) => d.visible + d.inFlight === 0)
        expect(depth).toStrictEqual({ visible: 0, inFlight: 0 })
        expect(yield* sqs.depth(sqs.dlqUrl)).toStrictEqual({ visible: 0, inFlight: 0 })
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    { timeout: 40_000 }
  )
})

// S3 stops answering the completion of a multipart upload, after the export's last row, through the `npm run serve`
// and `npm run worker` compositions on the local servers: the call's own limit (S3_CALL_TIMEOUT) ends each attempt,
// since the query's deadline no longer races the upload once the rows have ended (ADR 21); the attempts are retried
// in-process, then the job fails, the user is told once, and the bucket holds nothing for the job.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import {
  apiClient,
  bearerFor,
  bucketContents,
  emailsTo,
  eventually,
  firstAttemptKey,
  linesOf,
  localServers,
  localSettings,
  MULTIPART_EXPORT,
  MULTIPART_SETTINGS,
  startApi,
  startWorker,
  waitForExport
} from "../../support/NodeStack.js"
import { FauxqsServer } from "../../support/servers/FauxqsServer.js"
import { pendingUploads, S3rverServer } from "../../support/servers/S3rverServer.js"
import type { S3rverRequest } from "../../support/servers/S3rverServer.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"

const RECIPIENT = "s3-hangs@example.test"
const USER = { sub: "s3-hangs-user", merchantId: "m-acme", email: RECIPIENT }

/** CompleteMultipartUpload: a POST with the upload's id. */
const isComplete = (request: S3rverRequest) => request.method === "POST" && "uploadId" in request.query

describe("S3 silent at the completion of an upload", () => {
  it.live(
    "each attempt ends at the call's limit, the job fails after its retries, the user is told once, nothing is left",
    () =>
      Effect.gen(function*() {
        const s3 = yield* S3rverServer
        const sqs = yield* FauxqsServer
        const ses = yield* SesLocalServer
        const settings = yield* localSettings({ ...MULTIPART_SETTINGS, S3_CALL_TIMEOUT: "2 seconds" })
        yield* startApi(settings)
        const logs = makeLogCollector()
        yield* startWorker(settings, logs.logger)
        const auth = yield* bearerFor(USER)
        const api = apiClient(settings, auth)

        // Every completion is held unanswered; the parts, and the aborts, are served.
        s3.faults.set((request) => isComplete(request) ? "hold" : "pass")

        const accepted = yield* api.requestExport(MULTIPART_EXPORT)
        expect(accepted.status).toBe(202)
        const { jobId } = accepted.body
        const key = firstAttemptKey(USER, jobId)

        // Without a limit of its own, the completion would wait for ever: EXPORT_QUERY_TIMEOUT (10 minutes) no
        // longer counts once the last row has been read.
        const view = yield* waitForExport(api, jobId, (v) => v.status === "failed", "45 seconds")
        expect(view.failure).toStrictEqual({
          reason: "UploadFailed",
          message: "We could not save your file. Please try the export again.",
          retryable: true
        })
        expect(view.attempts).toBe(1)
        expect(view.file).toBeUndefined()
        const failed = linesOf(logs.lines, jobId, "export failed")
        expect(failed.map((line) => line.message[1])).toStrictEqual([{
          error: "UploadFailed",
          detail: "CompleteMultipartUpload: no answer within 2s"
        }])

        // Three attempts (ADR 4: two retries), each sent its completion, then aborted its multipart upload.
        const forJob = s3.faults.seen.filter((request) => request.key === key)
        expect(forJob.filter(isComplete).map((request) => request.action)).toStrictEqual(["hold", "hold", "hold"])
        expect(forJob.filter((request) => request.method === "DELETE" && "uploadId" in request.query).length)
          .toBeGreaterThanOrEqual(3)
        s3.faults.set(undefined)
        expect(yield* bucketContents).toStrictEqual({ objects: [], uploads: [] })
        expect(pendingUploads(s3)).toStrictEqual([])

        // Told once in-app and once by email.
        const notices = yield* eventually(api.notifications, (items) => items.length > 0)
        expect(notices.map((n) => [n.jobId, n.kind])).toStrictEqual([[jobId, "export_failed"]])
        const emails = yield* emailsTo(ses, EmailAddress.make(RECIPIENT))
        expect(emails.map((email) => email.subject)).toStrictEqual([
          "Your export failed: Orders (2025-01-01 to 2025-12-31) as CSV"
        ])

        // The delivery was settled for good: nothing to come back, nothing dead-lettered.
        const depth = yield* eventually(sqs.depth(sqs.queueUrl), (d) => d.visible + d.inFlight === 0)
        expect(depth).toStrictEqual({ visible: 0, inFlight: 0 })
        expect(yield* sqs.depth(sqs.dlqUrl)).toStrictEqual({ visible: 0, inFlight: 0 })
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    { timeout: 70_000 }
  )
})

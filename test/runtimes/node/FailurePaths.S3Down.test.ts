// S3 goes away in the middle of a multipart upload, through the `npm run serve` and `npm run worker` compositions
// on the local servers: the user is told once, both ways, and the bucket holds neither an object nor a pending
// upload for the job.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import {
  apiClient,
  bearerFor,
  bucketContents,
  emailsTo,
  eventually,
  fetchJson,
  firstAttemptKey,
  localServers,
  localSettings,
  MULTIPART_EXPORT,
  MULTIPART_SETTINGS,
  startApi,
  startWorker,
  waitForExport
} from "../../support/NodeStack.js"
import { FauxqsServer } from "../../support/servers/FauxqsServer.js"
import {
  isCreateMultipartUpload,
  partNumberOf,
  pendingUploads,
  S3rverServer
} from "../../support/servers/S3rverServer.js"
import { SesLocalServer } from "../../support/servers/SesLocalServer.js"

const RECIPIENT = "s3-down@example.test"
const USER = { sub: "s3-down-user", merchantId: "m-acme", email: RECIPIENT }

describe("S3 stopped mid-upload", () => {
  it.live(
    "the export fails after its in-process retries, nothing is left in the bucket, and the user is told once",
    () =>
      Effect.gen(function*() {
        const s3 = yield* S3rverServer
        const sqs = yield* FauxqsServer
        const ses = yield* SesLocalServer
        const settings = yield* localSettings(MULTIPART_SETTINGS)
        yield* startApi(settings)
        yield* startWorker(settings)
        const auth = yield* bearerFor(USER)
        const api = apiClient(settings, auth)

        // The first part of every upload lands; every later part finds the server gone (connection reset).
        s3.faults.set((request) => (partNumberOf(request) ?? 1) > 1 ? "reset" : "pass")

        const accepted = yield* api.requestExport(MULTIPART_EXPORT)
        expect(accepted.status).toBe(202)
        const { jobId } = accepted.body
        const key = firstAttemptKey(USER, jobId)

        const view = yield* waitForExport(api, jobId, (v) => v.status === "failed", "40 seconds")
        // Told in words the user can act on; ADR 4: an upload failure is retryable, retried in-process, not re-queued.
        expect(view.failure).toStrictEqual({
          reason: "UploadFailed",
          message: "We could not save your file. Please try the export again.",
          retryable: true
        })
        expect(view.attempts).toBe(1)
        expect(view.file).toBeUndefined()

        // It really was mid-upload, three times (ADR 4: two retries): each attempt started a multipart upload,
        // had its first part stored and lost a later one.
        const forJob = s3.faults.seen.filter((request) => request.key === key)
        expect(forJob.filter(isCreateMultipartUpload)).toHaveLength(3)
        expect(forJob.filter((request) => partNumberOf(request) === 1 && request.action === "pass").length)
          .toBeGreaterThanOrEqual(3)
        expect(forJob.some((request) => (partNumberOf(request) ?? 0) > 1 && request.action === "reset")).toBe(true)
        // And each attempt aborted its multipart upload (AbortMultipartUpload is a DELETE with the upload id).
        expect(forJob.filter((request) => request.method === "DELETE" && "uploadId" in request.query).length)
          .toBeGreaterThanOrEqual(3)

        // Nothing visible and nothing pending: over the S3 API, and on s3rver's disk.
        s3.faults.set(undefined)
        expect(yield* bucketContents).toStrictEqual({ objects: [], uploads: [] })
        expect(pendingUploads(s3)).toStrictEqual([])
        // No file to download, said in the API's error shape.
        const download = yield* fetchJson<{ error: { code: string } }>(
          `${api.base}/api/v1/reports/exports/${jobId}/download`,
          { headers: { ...auth, accept: "application/json" } }
        )
        expect([download.status, download.body.error.code]).toStrictEqual([409, "export_not_ready"])

        // Told once in-app and once by email, with the same words.
        const notices = yield* eventually(api.notifications, (items) => items.length > 0)
        expect(notices.map((n) => [n.jobId, n.kind, n.title])).toStrictEqual([[
          jobId,
          "export_failed",
          "Export failed"
        ]])
        expect(notices[0]!.body).toContain(view.failure!.message)
        const emails = yield* emailsTo(ses, EmailAddress.make(RECIPIENT))
        expect(emails.map((email) => email.subject)).toStrictEqual([
          "Your export failed: Orders (2025-01-01 to 2025-12-31) as CSV"
        ])
        expect(emails[0]!.body.text).toContain(view.failure!.message)

        // The delivery was settled for good: nothing to come back, nothing dead-lettered.
        const depth = yield* eventually(sqs.depth(sqs.queueUrl), (d) => d.visible + d.inFlight === 0)
        expect(depth).toStrictEqual({ visible: 0, inFlight: 0 })
        expect(yield* sqs.depth(sqs.dlqUrl)).toStrictEqual({ visible: 0, inFlight: 0 })
      }).pipe(Effect.scoped, Effect.provide(localServers)),
    { timeout: 60_000 }
  )
})

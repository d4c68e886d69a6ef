// Handlers of the exports group: each translates HTTP to a use case and the use case's errors to API errors.
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { DateTime, Effect, Schema } from "effect"
import { downloadExport } from "../../application/DownloadExport.js"
import { getExport, listExports } from "../../application/ExportQueries.js"
import { requestExport } from "../../application/RequestExport.js"
import type { Caller } from "../../application/RequestExport.js"
import type { ExportJob } from "../../domain/ExportJob.js"
import { DownloadLink, ExportApi, ExportList } from "./Api.js"
import type { ExportAccepted } from "./Api.js"
import {
  exportExpired,
  exportNotFound,
  exportNotReady,
  idempotencyKeyReused,
  invalidRequest,
  linkUnavailable,
  queueUnavailable,
  storeUnavailable
} from "./ApiErrors.js"
import { CurrentCaller } from "./Authentication.js"
import { exportPath } from "./ExportPaths.js"
import { readJsonBody } from "./RequestBody.js"
import { exportView, statusOf } from "./Views.js"

/** The API's body is flat; the application's command keeps the report's parameters apart. */
const commandOf = (body: unknown): unknown => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return body
  const { format, reportType, ...params } = body as Record<string, unknown>
  return { reportType, format, params }
}

/** Field paths as the client wrote them: "params.dateTo" is the body's "dateTo". */
const bodyField = (field: string): string => field.replace(/^params\.?/, "")

const encodeLink = Schema.encode(DownloadLink)

/**
 * The 202's body: `ExportAccepted` as its schema encodes it, which is its three strings as they are. Built from a
 * job's typed fields, so neither validated nor walked by the schema again.
 */
const acceptedBody = (job: ExportJob): typeof ExportAccepted.Encoded => ({
  jobId: job.jobId,
  status: statusOf(job),
  statusUrl: exportPath(job.jobId)
})

/**
 * Accepting an export once the caller is known and the body read: the use case, its errors as API errors, and
 * the 202's encoded body and Location. Shared by the HttpApi handler and the node:http accept route (ADR 0013).
 */
export const acceptExport = (caller: Caller, body: unknown, idempotencyKey: string | undefined) =>
  requestExport(caller, commandOf(body), { idempotencyKey }).pipe(
    Effect.catchTags({
      ValidationError: (error) => invalidRequest(error, bodyField),
      QueueUnavailable: queueUnavailable,
      JobStoreUnavailable: storeUnavailable,
      IdempotencyKeyReused: idempotencyKeyReused,
      JobConflict: Effect.die
    }),
    Effect.map((job) => {
      const accepted = acceptedBody(job)
      return { body: accepted, location: accepted.statusUrl }
    })
  )

export const ExportsHttp = HttpApiBuilder.group(ExportApi, "exports", (handlers) =>
  handlers
    .handleRaw("requestExport", ({ request }) =>
      Effect.gen(function*() {
        const caller = yield* CurrentCaller
        const body = yield* readJsonBody(request)
        const accepted = yield* acceptExport(caller, body, request.headers["idempotency-key"])
        return HttpServerResponse.unsafeJson(accepted.body, { status: 202, headers: { location: accepted.location } })
      }))
    .handle("listExports", ({ urlParams }) =>
      Effect.gen(function*() {
        const caller = yield* CurrentCaller
        const page = yield* listExports(caller.owner, urlParams).pipe(
          Effect.catchTags({ ValidationError: (error) => invalidRequest(error), JobStoreUnavailable: storeUnavailable })
        )
        const now = yield* DateTime.now
        return new ExportList({
          items: page.jobs.map((job) => exportView(job, now)),
          ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor })
        })
      }))
    .handle("getExport", ({ path }) =>
      Effect.gen(function*() {
        const caller = yield* CurrentCaller
        const job = yield* getExport(caller.owner, path.jobId).pipe(
          Effect.catchTags({ JobNotFound: exportNotFound, JobStoreUnavailable: storeUnavailable })
        )
        return exportView(job, yield* DateTime.now)
      }))
    .handleRaw("downloadExport", ({ path, request }) =>
      Effect.gen(function*() {
        const caller = yield* CurrentCaller
        const link = yield* downloadExport(caller.owner, path.jobId).pipe(
          Effect.catchTags({
            JobNotFound: exportNotFound,
            JobStoreUnavailable: storeUnavailable,
            ExportNotReady: exportNotReady,
            ExportExpired: exportExpired,
            LinkSigningFailed: linkUnavailable
          })
        )
        const noStore = { "cache-control": "no-store" }
        // A script cannot read where a redirect goes, so a client that asks for JSON gets the link itself.
        if ((request.headers["accept"] ?? "").includes("application/json")) {
          const body = yield* Effect.orDie(encodeLink(new DownloadLink({ url: link.url, expiresAt: link.expiresAt })))
          return HttpServerResponse.unsafeJson(body, { headers: noStore })
        }
        return HttpServerResponse.redirect(link.url, { status: 302, headers: noStore })
      })))

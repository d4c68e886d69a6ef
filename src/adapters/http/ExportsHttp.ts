// Handlers of the exports group: each translates HTTP to a use case and the use case's errors to API errors.
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { DateTime, Effect, Schema } from "effect"
import { downloadExport } from "../../application/DownloadExport.js"
import { readAudit } from "../../application/ExportAudit.js"
import { getExport, listExports } from "../../application/ExportQueries.js"
import { handleRequestExport } from "./accept-export/HttpApiAcceptHandler.js"
import { DownloadLink, ExportApi, ExportList, ExportView } from "./Api.js"
import {
  auditUnavailable,
  exportExpired,
  exportNotFound,
  exportNotReady,
  invalidRequest,
  linkUnavailable,
  storeUnavailable
} from "./ApiErrors.js"
import { CurrentCaller } from "./Authentication.js"
import { handleCancelExport } from "./CancelExportHttp.js"
import { conditionalJson } from "./EntityTags.js"
import { handleExportAgain } from "./ExportAgainHandler.js"
import { auditTrailView, exportView } from "./Views.js"

const encodeLink = Schema.encode(DownloadLink)

export const layer = HttpApiBuilder.group(ExportApi, "exports", (handlers) =>
  handlers
    .handleRaw("requestExport", handleRequestExport)
    .handleRaw("listExports", ({ request, urlParams }) =>
      Effect.gen(function*() {
        const caller = yield* CurrentCaller
        const page = yield* listExports(caller.owner, urlParams).pipe(
          Effect.catchTags({ ValidationError: (error) => invalidRequest(error), JobStoreUnavailable: storeUnavailable })
        )
        const now = yield* DateTime.now
        const list = new ExportList({
          items: page.jobs.map((job) => exportView(job, now)),
          ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor })
        })
        return yield* conditionalJson(ExportList, list, caller.owner, request)
      }))
    .handleRaw("getExport", ({ path, request }) =>
      Effect.gen(function*() {
        const caller = yield* CurrentCaller
        const job = yield* getExport(caller.owner, path.jobId).pipe(
          Effect.catchTags({ JobNotFound: exportNotFound, JobStoreUnavailable: storeUnavailable })
        )
        return yield* conditionalJson(ExportView, exportView(job, yield* DateTime.now), caller.owner, request)
      }))
    .handle("cancelExport", handleCancelExport)
    .handleRaw("downloadExport", ({ path, request }) =>
      Effect.gen(function*() {
        const caller = yield* CurrentCaller
        const link = yield* downloadExport(caller.owner, path.jobId).pipe(
          Effect.catchTags({
            JobNotFound: exportNotFound,
            JobStoreUnavailable: storeUnavailable,
            ExportNotReady: exportNotReady,
            ExportExpired: exportExpired,
            LinkSigningFailed: linkUnavailable,
            AuditTrailUnavailable: auditUnavailable
          })
        )
        const noStore = { "cache-control": "no-store" }
        // A script cannot read where a redirect goes, so a client that asks for JSON gets the link itself.
        if ((request.headers["accept"] ?? "").includes("application/json")) {
          const body = yield* Effect.orDie(encodeLink(new DownloadLink({ url: link.url, expiresAt: link.expiresAt })))
          return HttpServerResponse.unsafeJson(body, { headers: noStore })
        }
        return HttpServerResponse.redirect(link.url, { status: 302, headers: noStore })
      }))
    .handle("getExportAudit", ({ path }) =>
      Effect.gen(function*() {
        const caller = yield* CurrentCaller
        const { entries, job } = yield* readAudit(caller.owner, path.jobId).pipe(
          Effect.catchTags({
            JobNotFound: exportNotFound,
            JobStoreUnavailable: storeUnavailable,
            AuditTrailUnavailable: auditUnavailable
          })
        )
        return auditTrailView(job, entries)
      }))
    .handleRaw("exportAgain", handleExportAgain))

// The route that serves the local file store's signed links: the embedded default's stand-in for a presigned
// object-storage URL. The Host header and then the signature are checked before anything touches the disk. Each
// link served is in its export's audit trail first (ADR 46): this store, unlike S3 or R2, sees its links used.
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { recordSignedLinkUse } from "../../application/ExportAudit.js"
import type { JobIds } from "../../application/JobIds.js"
import type { AuditTrail } from "../../application/ports/AuditTrail.js"
import type { JobStore } from "../../application/ports/JobStore.js"
import type { AllowedHosts } from "../http/AllowedHosts.js"
import { forAllowedHosts } from "../http/AllowedHosts.js"
import { currentErrorResponse } from "../http/ApiErrors.js"
import { FILES_ROUTE, LocalFiles } from "./LocalFileStore.js"

/** RFC 6266: an ASCII fallback name plus the exact UTF-8 name. */
const contentDisposition = (name: string): string =>
  `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(name)}`

const unrecorded = () =>
  currentErrorResponse(503, "download_unavailable", "This download is unavailable right now. Please retry in a minute.")

/** `/files/*`, answered only to requests whose Host is one of `hosts`. */
export const layer = (hosts: AllowedHosts) =>
  HttpApiBuilder.Router.use((router) =>
    Effect.gen(function*() {
      const store = yield* LocalFiles
      const recording = yield* Effect.context<AuditTrail | JobStore | JobIds>()
      yield* router.get(
        `${FILES_ROUTE}*`,
        forAllowedHosts(hosts)(Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const url = new URL(request.url, "http://localhost")
          const key = (() => {
            try {
              return decodeURIComponent(url.pathname.slice(FILES_ROUTE.length))
            } catch {
              return ""
            }
          })()
          return yield* store.openSigned(
            key,
            url.searchParams.get("expires") ?? "",
            url.searchParams.get("signature") ?? ""
          )
            .pipe(
              Effect.tap(() => Effect.provide(recordSignedLinkUse(key), recording)),
              Effect.map((file) =>
                HttpServerResponse.stream(file.stream, {
                  contentType: file.contentType,
                  contentLength: file.size,
                  headers: {
                    "content-disposition": contentDisposition(file.downloadName),
                    "cache-control": "private, no-store",
                    "x-content-type-options": "nosniff"
                  }
                })
              ),
              Effect.catchTags({
                LinkTampered: () => currentErrorResponse(403, "link_invalid", "This download link is not valid."),
                LinkExpired: () =>
                  currentErrorResponse(410, "link_expired", "This download link has expired. Ask for the file again."),
                FileNotFound: () => currentErrorResponse(404, "file_not_found", "This file no longer exists."),
                // Served unrecorded it would not be: the link still works once the records are back.
                AuditTrailUnavailable: unrecorded,
                JobStoreUnavailable: unrecorded
              })
            )
        }))
      )
    })
  )

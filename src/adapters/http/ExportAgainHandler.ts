// The handler of POST /api/v1/reports/exports/{jobId}/retry: export again. It answers as the accept route does
// (`accept-export/AcceptExport.ts`): the same use case underneath, the same error translations, the same 202.
import type { HttpServerRequest } from "@effect/platform"
import { HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { exportAgain } from "../../application/ExportAgain.js"
import { acceptedAnswer, requestExportErrors } from "./accept-export/AcceptExport.js"
import { exportNotFound, exportNotRetryable } from "./ApiErrors.js"
import { CurrentCaller } from "./Authentication.js"

export const handleExportAgain = (
  { path, request }: {
    readonly path: { readonly jobId: string }
    readonly request: HttpServerRequest.HttpServerRequest
  }
) =>
  Effect.gen(function*() {
    const caller = yield* CurrentCaller
    const accepted = yield* exportAgain(caller, path.jobId, { idempotencyKey: request.headers["idempotency-key"] })
      .pipe(
        Effect.catchTags({
          ...requestExportErrors,
          JobNotFound: exportNotFound,
          ExportNotRetryable: exportNotRetryable
        }),
        Effect.map(acceptedAnswer)
      )
    return HttpServerResponse.unsafeJson(accepted.body, { status: 202, headers: { location: accepted.location } })
  })

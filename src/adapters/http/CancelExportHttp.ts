// The handler of POST /api/v1/reports/exports/{jobId}/cancel: the owner's cancel, its errors in the API's shape.
import { DateTime, Effect } from "effect"
import { cancelExport } from "../../application/CancelExport.js"
import { auditUnavailable, exportFinished, exportNotFound, storeUnavailable } from "./ApiErrors.js"
import { CurrentCaller } from "./Authentication.js"
import { exportView } from "./Views.js"

export const handleCancelExport = ({ path }: { readonly path: { readonly jobId: string } }) =>
  Effect.gen(function*() {
    const caller = yield* CurrentCaller
    const job = yield* cancelExport(caller.owner, path.jobId).pipe(
      Effect.catchTags({
        JobNotFound: exportNotFound,
        ExportAlreadyFinished: exportFinished,
        JobStoreUnavailable: storeUnavailable,
        AuditTrailUnavailable: auditUnavailable
      })
    )
    return exportView(job, yield* DateTime.now)
  })

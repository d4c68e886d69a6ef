// Export again: a finished export's report, parameters and format asked for anew by its owner. The new request goes
// through `requestExport`, so validation, idempotency, deduplication and publishing are those of a first request.
import { DateTime, Effect, Schema } from "effect"
import { ExportNotRetryable } from "../domain/Errors.js"
import { canExportAgain } from "../domain/ExportJob.js"
import { CurrentCatalogue, perCatalogue } from "./CurrentCatalogue.js"
import { getExport } from "./ExportQueries.js"
import { requestExport } from "./RequestExport.js"
import type { Caller, RequestOptions } from "./RequestExport.js"

/** A job's report as a client would send it: the parameters' encoded side, which `requestExport` decodes again. */
const encodeReportOf = perCatalogue((catalogue) => Schema.encode(catalogue.ReportRequest))

/**
 * Starts a new export with the report, parameters and format of the caller's job `jobId`. Another owner's job is
 * JobNotFound, as `getExport` has it; a job in progress or still downloadable is ExportNotRetryable. The answer is
 * `requestExport`'s: a new Queued job, or the job an Idempotency-Key or an identical export in progress names.
 */
export const exportAgain = Effect.fn("Exports.again")(
  function*(caller: Caller, jobId: string, options: RequestOptions = {}) {
    const job = yield* getExport(caller.owner, jobId)
    if (!canExportAgain(job, yield* DateTime.now)) {
      return yield* new ExportNotRetryable({
        jobId: job.jobId,
        status: job._tag,
        ...(job._tag === "Succeeded" ? { downloadableUntil: job.result.linkExpiresAt } : {})
      })
    }
    // A stored job's report always encodes; a failure here is a bug, not the caller's.
    const report = yield* Effect.orDie(encodeReportOf(yield* CurrentCatalogue)(job.report))
    yield* Effect.annotateCurrentSpan({ jobId: job.jobId })
    return yield* requestExport(caller, { reportType: report._tag, format: job.format, params: report.params }, options)
  }
)

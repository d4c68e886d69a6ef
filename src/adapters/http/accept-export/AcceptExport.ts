// Accepting an export once the caller is known and the body read: the one program both transports of
// POST /api/v1/reports/export run (ADR 0013). The node:http route (`NodeAcceptRoute.ts`) answers it on every Node
// runtime; the HttpApi handler (`HttpApiAcceptHandler.ts`) answers it on Lambda and wherever the HttpApi app is
// served without that route.
import { Effect } from "effect"
import { requestExport } from "../../../application/RequestExport.js"
import type { Caller } from "../../../application/RequestExport.js"
import type { ValidationError } from "../../../domain/Errors.js"
import type { ExportJob } from "../../../domain/ExportJob.js"
import type { ExportAccepted } from "../Api.js"
import {
  exportLimitReached,
  idempotencyKeyReused,
  invalidRequest,
  queueUnavailable,
  storeUnavailable
} from "../ApiErrors.js"
import { exportPath } from "../ExportPaths.js"
import { statusOf } from "../Views.js"

/** The API's body is flat; the application's command keeps the report's parameters apart. */
const commandOf = (body: unknown): unknown => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return body
  const { format, reportType, ...params } = body as Record<string, unknown>
  return { reportType, format, params }
}

/** Field paths as the client wrote them: "params.dateTo" is the body's "dateTo". */
const bodyField = (field: string): string => field.replace(/^params\.?/, "")

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
 * `requestExport`'s errors as API errors, for `Effect.catchTags`: shared by every route that starts an export
 * through it (this one, and export again).
 */
export const requestExportErrors = {
  ValidationError: (error: ValidationError) => invalidRequest(error, bodyField),
  QueueUnavailable: queueUnavailable,
  JobStoreUnavailable: storeUnavailable,
  IdempotencyKeyReused: idempotencyKeyReused,
  ExportLimitReached: exportLimitReached,
  JobConflict: Effect.die
}

/** The 202's encoded body and its Location, for the job a request was answered with. */
export const acceptedAnswer = (job: ExportJob) => {
  const accepted = acceptedBody(job)
  return { body: accepted, location: accepted.statusUrl }
}

/** The use case, its errors as API errors, and the 202's encoded body and Location. */
export const acceptExport = (caller: Caller, body: unknown, idempotencyKey: string | undefined) =>
  requestExport(caller, commandOf(body), { idempotencyKey }).pipe(
    Effect.catchTags(requestExportErrors),
    Effect.map(acceptedAnswer)
  )

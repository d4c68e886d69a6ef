import type { Effect } from "effect"
import { Context, Schema } from "effect"
import type { QueueUnavailable } from "../../domain/Errors.js"
import { ExportJobId, MerchantId, UserId } from "../../domain/Identifiers.js"
import { ReportRequest } from "../../domain/Reports.js"

/**
 * What the API puts on the queue for a worker. The job record stays the source of truth: a worker re-reads
 * the job and refuses a message whose owner does not match it.
 */
export class ExportMessage extends Schema.Class<ExportMessage>("ExportMessage")({
  jobId: ExportJobId,
  userId: UserId,
  merchantId: MerchantId,
  report: ReportRequest
}) {}

export class JobQueue extends Context.Tag("exports/JobQueue")<JobQueue, {
  readonly publish: (message: ExportMessage) => Effect.Effect<void, QueueUnavailable>
}>() {}

// Every expected failure of the export flow, as tagged, serialisable errors. The domain says nothing about
// HTTP: each driving adapter maps these to its own status codes.
import { Schema } from "effect"
import { ExportFormat } from "./FileFormats.js"
import { ExportJobId } from "./Identifiers.js"

/** One broken rule on one input field. `field` is a dotted path ("params.dateTo"); `rule` a stable code. */
export class FieldIssue extends Schema.Class<FieldIssue>("FieldIssue")({
  field: Schema.String,
  rule: Schema.String,
  message: Schema.String
}) {}

export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", {
  issues: Schema.NonEmptyArray(FieldIssue)
}) {
  override get message(): string {
    return this.issues.map((issue) => `${issue.field || "(body)"}: ${issue.message} [${issue.rule}]`).join("; ")
  }
}

export class QueueUnavailable extends Schema.TaggedError<QueueUnavailable>()("QueueUnavailable", {
  detail: Schema.String
}) {}

export class QueryTimeout extends Schema.TaggedError<QueryTimeout>()("QueryTimeout", {
  jobId: ExportJobId,
  afterMillis: Schema.Number,
  rowsBeforeTimeout: Schema.Number
}) {}

export class QueryFailed extends Schema.TaggedError<QueryFailed>()("QueryFailed", {
  jobId: ExportJobId,
  detail: Schema.String,
  retryable: Schema.Boolean,
  /** Set when the rows were stopped because the report has more than one export may write (ADR 45): never retried. */
  rowLimit: Schema.optional(Schema.Number),
  /**
   * Set when the source cannot write this format at all (a ClickHouse server too old for Parquet, ADR 50): never
   * retried, and the user is told to choose another format.
   */
  unavailableFormat: Schema.optional(ExportFormat)
}) {}

export class UploadFailed extends Schema.TaggedError<UploadFailed>()("UploadFailed", {
  objectKey: Schema.String,
  detail: Schema.String,
  retryable: Schema.Boolean
}) {}

export class LinkSigningFailed extends Schema.TaggedError<LinkSigningFailed>()("LinkSigningFailed", {
  objectKey: Schema.String,
  detail: Schema.String
}) {}

export const NotificationChannel = Schema.Literal("inApp", "email")
export type NotificationChannel = typeof NotificationChannel.Type

/**
 * A notice was not delivered. `retryable` is false when trying again cannot help, as when the email provider refused
 * the message itself (a rejected or invalid address, an unverified sender); a failure says true unless it knows.
 */
export class NotificationFailed extends Schema.TaggedError<NotificationFailed>()("NotificationFailed", {
  channel: NotificationChannel,
  detail: Schema.String,
  retryable: Schema.optionalWith(Schema.Boolean, { default: () => true })
}) {}

export class JobNotFound extends Schema.TaggedError<JobNotFound>()("JobNotFound", {
  jobId: Schema.String
}) {}

export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  jobId: ExportJobId,
  from: Schema.String,
  event: Schema.String
}) {
  override get message(): string {
    return `job ${this.jobId}: ${this.event} is not allowed from ${this.from}`
  }
}

/** Someone else changed the job since we read it (optimistic concurrency): re-read and decide again. */
export class JobConflict extends Schema.TaggedError<JobConflict>()("JobConflict", {
  jobId: ExportJobId,
  expectedRevision: Schema.Number
}) {}

export class JobStoreUnavailable extends Schema.TaggedError<JobStoreUnavailable>()("JobStoreUnavailable", {
  detail: Schema.String
}) {}

/** The audit trail could not be read or written: what needed it is refused rather than done unrecorded. */
export class AuditTrailUnavailable extends Schema.TaggedError<AuditTrailUnavailable>()("AuditTrailUnavailable", {
  detail: Schema.String
}) {}

export class NotificationNotFound extends Schema.TaggedError<NotificationNotFound>()("NotificationNotFound", {
  notificationId: Schema.String
}) {}

/** The export has no file yet (still running) or will never have one (failed, cancelled). */
export class ExportNotReady extends Schema.TaggedError<ExportNotReady>()("ExportNotReady", {
  jobId: Schema.String,
  status: Schema.String
}) {}

/** The export's file is past the expiry promised to the user: its links no longer work. */
export class ExportExpired extends Schema.TaggedError<ExportExpired>()("ExportExpired", {
  jobId: Schema.String
}) {}

/**
 * The export cannot be started again yet: it is still in progress (Queued, Running), or its file can still be
 * downloaded (Succeeded, link not expired). `downloadableUntil` is when that file expires.
 */
export class ExportNotRetryable extends Schema.TaggedError<ExportNotRetryable>()("ExportNotRetryable", {
  jobId: Schema.String,
  status: Schema.String,
  downloadableUntil: Schema.optional(Schema.DateTimeUtc)
}) {}

/** The same Idempotency-Key was used within its lifetime for a different request. */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()("IdempotencyKeyReused", {
  jobId: Schema.String
}) {}

/** The export finished (succeeded or failed) before its owner cancelled it: there is nothing left to cancel. */
export class ExportAlreadyFinished extends Schema.TaggedError<ExportAlreadyFinished>()("ExportAlreadyFinished", {
  jobId: Schema.String,
  status: Schema.String
}) {}

/**
 * A new export would take the owner (`scope: "user"`) or their merchant (`"merchant"`) past its cap of exports Queued
 * or Running at once (TenantLimits.ts): it is refused, and the client asked to retry once one has finished.
 */
export class ExportLimitReached extends Schema.TaggedError<ExportLimitReached>()("ExportLimitReached", {
  scope: Schema.Literal("user", "merchant"),
  limit: Schema.Number
}) {}

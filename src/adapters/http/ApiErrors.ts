// One JSON error shape for every failure the API answers: { error: { code, message, details? }, requestId }.
// The domain's errors are translated here, per status, so the domain never speaks HTTP.
import { HttpApiSchema, HttpServerResponse } from "@effect/platform"
import { DateTime, Duration, Effect, FiberRef, Schema } from "effect"
import type {
  AuditTrailUnavailable,
  ExportAlreadyFinished,
  ExportExpired,
  ExportLimitReached,
  ExportNotReady,
  ExportNotRetryable,
  IdempotencyKeyReused,
  JobNotFound,
  JobStoreUnavailable,
  NotificationFailed,
  NotificationNotFound,
  QueryFailed,
  QueryTimeout,
  QueueUnavailable,
  ValidationError
} from "../../domain/Errors.js"
import type { LinkSigningFailed } from "../../domain/Errors.js"
import { IDEMPOTENCY_WINDOW } from "../../domain/ExportJob.js"

/** The id of the request being served, set by the server for each request and echoed in `x-request-id`. */
export const currentRequestId = FiberRef.unsafeMake("-")

export const FieldIssueBody = Schema.Struct({
  field: Schema.String,
  rule: Schema.String,
  message: Schema.String
})

/**
 * The fields of an error response, with the codes its status may carry. Distinct codes per class also let the
 * API tell its error classes apart: the platform picks the first class whose shape fits an error value.
 */
export const errorFields = <const Codes extends ReadonlyArray<string>>(...codes: Codes) => ({
  error: Schema.Struct({
    code: Schema.Literal(...codes),
    message: Schema.String,
    details: Schema.optional(Schema.Array(FieldIssueBody))
  }),
  requestId: Schema.String
})

export class BadRequest extends Schema.Class<BadRequest>("BadRequest")(
  errorFields("invalid_request", "malformed_json", "unreadable_body"),
  HttpApiSchema.annotations({ status: 400 })
) {}
export class Unauthorized extends Schema.Class<Unauthorized>("Unauthorized")(
  errorFields("unauthorized", "token_expired"),
  HttpApiSchema.annotations({ status: 401 })
) {}
export class NotFound extends Schema.Class<NotFound>("NotFound")(
  errorFields("export_not_found", "notification_not_found", "not_found"),
  HttpApiSchema.annotations({ status: 404 })
) {}
export class Conflict extends Schema.Class<Conflict>("Conflict")(
  errorFields("idempotency_key_reused", "export_not_ready", "export_finished", "export_not_retryable"),
  HttpApiSchema.annotations({ status: 409 })
) {}
/** A request under a Host name that the route does not answer (DNS rebinding): see `AllowedHosts.ts`. */
export class MisdirectedRequest extends Schema.Class<MisdirectedRequest>("MisdirectedRequest")(
  errorFields("misdirected_request"),
  HttpApiSchema.annotations({ status: 421 })
) {}
/** A tenant limit reached (ADR 45): more exports in progress, or event streams, than one user or merchant may hold. */
export class TooManyRequests extends Schema.Class<TooManyRequests>("TooManyRequests")(
  errorFields("too_many_exports", "too_many_streams"),
  HttpApiSchema.annotations({ status: 429 })
) {}
export class Gone extends Schema.Class<Gone>("Gone")(
  errorFields("export_expired"),
  HttpApiSchema.annotations({ status: 410 })
) {}
export class PayloadTooLarge extends Schema.Class<PayloadTooLarge>("PayloadTooLarge")(
  errorFields("payload_too_large"),
  HttpApiSchema.annotations({ status: 413 })
) {}
export class UnsupportedMediaType extends Schema.Class<UnsupportedMediaType>("UnsupportedMediaType")(
  errorFields("unsupported_media_type"),
  HttpApiSchema.annotations({ status: 415 })
) {}
export class ServiceUnavailable extends Schema.Class<ServiceUnavailable>("ServiceUnavailable")(
  errorFields(
    "queue_unavailable",
    "store_unavailable",
    "notifications_unavailable",
    "download_unavailable",
    "not_ready",
    "auth_unavailable",
    "report_unavailable",
    "audit_unavailable"
  ),
  HttpApiSchema.annotations({ status: 503 })
) {}
/** A report read that the API waits on (a preview) did not finish in its time. */
export class GatewayTimeout extends Schema.Class<GatewayTimeout>("GatewayTimeout")(
  errorFields("preview_timeout"),
  HttpApiSchema.annotations({ status: 504 })
) {}

/** How long a client should wait before it retries a 503, unless its error says otherwise. */
export const DEFAULT_RETRY_AFTER = Duration.seconds(30)

/**
 * How long a client should wait when the identity provider's keys cannot be fetched: such outages are usually
 * short, and the client's user is waiting on the page rather than signed out.
 */
export const AUTH_UNAVAILABLE_RETRY_AFTER = Duration.seconds(5)

/** How long a client should wait after a 429 for too many exports in progress: about what a small export takes. */
export const TOO_MANY_EXPORTS_RETRY_AFTER = Duration.seconds(30)

/** How long a client refused for too many event streams should wait: long enough for a closed tab's stream to end. */
export const TOO_MANY_STREAMS_RETRY_AFTER = Duration.seconds(10)

/** The `Retry-After` a 503 or a 429 answers with. */
export const retryAfterOf = (error: ServiceUnavailable | TooManyRequests): Duration.Duration => {
  switch (error.error.code) {
    case "auth_unavailable":
      return AUTH_UNAVAILABLE_RETRY_AFTER
    case "too_many_exports":
      return TOO_MANY_EXPORTS_RETRY_AFTER
    case "too_many_streams":
      return TOO_MANY_STREAMS_RETRY_AFTER
    default:
      return DEFAULT_RETRY_AFTER
  }
}

/** Whether an API error asks the client to wait before it retries (`retryAfterOf`). */
export const asksToWait = (error: unknown): error is ServiceUnavailable | TooManyRequests =>
  error instanceof ServiceUnavailable || error instanceof TooManyRequests

/** A `Retry-After` header's value: whole seconds. */
export const retryAfterHeader = (wait: Duration.Duration): string => String(Math.ceil(Duration.toSeconds(wait)))

type FieldIssue = typeof FieldIssueBody.Type
interface ErrorProps<Code extends string> {
  readonly error: { readonly code: Code; readonly message: string; readonly details?: ReadonlyArray<FieldIssue> }
  readonly requestId: string
}
type ErrorClass<Code extends string, E> = new(props: ErrorProps<Code>) => E

/** Builds an API error for the current request. */
export const apiError = <Code extends string, E>(
  Class: ErrorClass<Code, E>,
  code: Code,
  message: string,
  details?: ReadonlyArray<FieldIssue>
): Effect.Effect<E> =>
  Effect.map(
    FiberRef.get(currentRequestId),
    (requestId) => new Class({ error: { code, message, ...(details === undefined ? {} : { details }) }, requestId })
  )

export const fail = <Code extends string, E>(
  Class: ErrorClass<Code, E>,
  code: NoInfer<Code>,
  message: string,
  details?: ReadonlyArray<FieldIssue>
): Effect.Effect<never, E> => Effect.flatMap(apiError(Class, code, message, details), Effect.fail)

/**
 * The error shape written directly, for responses the API's error encoder never sees: the server middleware's own
 * answers and routes outside the API (signed file links, the outbox page).
 */
export const errorResponse = (status: number, code: string, message: string, requestId: string) =>
  HttpServerResponse.unsafeJson({ error: { code, message }, requestId }, { status })

/** `errorResponse` for the request being served. */
export const currentErrorResponse = (status: number, code: string, message: string) =>
  Effect.map(FiberRef.get(currentRequestId), (requestId) => errorResponse(status, code, message, requestId))

// ---- translations of the domain's errors ----

export const invalidRequest = (error: ValidationError, rename: (field: string) => string = (field) => field) =>
  fail(
    BadRequest,
    "invalid_request",
    "The request is not valid: see details for each field.",
    error.issues.map((issue) => ({ field: rename(issue.field), rule: issue.rule, message: issue.message }))
  )

const exportsCounted = (count: number): string => `${count} ${count === 1 ? "export" : "exports"}`

export const exportLimitReached = (error: ExportLimitReached) =>
  fail(
    TooManyRequests,
    "too_many_exports",
    error.scope === "user"
      ? `You already have ${exportsCounted(error.limit)} queued or running, the most one user may have at once. ` +
        "Wait for one to finish, or cancel one, then try again."
      : `Your merchant account already has ${exportsCounted(error.limit)} queued or running, the most one ` +
        "merchant may have at once. Wait for one to finish, then try again.",
    [{
      field: error.scope === "user" ? "exportsPerUser" : "exportsPerMerchant",
      rule: "limit",
      message: `at most ${error.limit} exports queued or running per ${error.scope}`
    }]
  )

export const exportNotFound = (_: JobNotFound) => fail(NotFound, "export_not_found", "No such export.")

export const notificationNotFound = (_: NotificationNotFound) =>
  fail(NotFound, "notification_not_found", "No such notification.")

export const queueUnavailable = (_: QueueUnavailable) =>
  fail(ServiceUnavailable, "queue_unavailable", "Exports cannot be started right now. Please retry in a minute.")

export const storeUnavailable = (_: JobStoreUnavailable) =>
  fail(ServiceUnavailable, "store_unavailable", "Exports are unavailable right now. Please retry in a minute.")

export const auditUnavailable = (_: AuditTrailUnavailable) =>
  fail(ServiceUnavailable, "audit_unavailable", "Exports' records are unavailable right now. Please retry in a minute.")

export const notificationsUnavailable = (_: NotificationFailed) =>
  fail(ServiceUnavailable, "notifications_unavailable", "Notifications are unavailable right now.")

export const idempotencyKeyReused = (_: IdempotencyKeyReused) =>
  fail(
    Conflict,
    "idempotency_key_reused",
    `This Idempotency-Key was used in the last ${IDEMPOTENCY_WINDOW} for a different export.`
  )

export const exportNotReady = (error: ExportNotReady) =>
  fail(
    Conflict,
    "export_not_ready",
    error.status === "Queued" || error.status === "Running"
      ? "The export is not finished yet."
      : "This export has no file to download."
  )

export const exportFinished = (error: ExportAlreadyFinished) =>
  fail(
    Conflict,
    "export_finished",
    error.status === "Succeeded"
      ? "This export has already finished: there is nothing to cancel."
      : "This export has already failed: there is nothing to cancel."
  )

export const exportNotRetryable = (error: ExportNotRetryable) =>
  fail(
    Conflict,
    "export_not_retryable",
    error.downloadableUntil === undefined
      ? "This export is still in progress. It can be exported again once it has finished."
      : `This export can still be downloaded, until ${DateTime.formatIso(error.downloadableUntil)}. ` +
        "It can be exported again once its file has expired."
  )

export const exportExpired = (_: ExportExpired) =>
  fail(Gone, "export_expired", "This export has expired. Please export the report again.")

export const linkUnavailable = (_: LinkSigningFailed) =>
  fail(ServiceUnavailable, "download_unavailable", "The download link cannot be made right now. Please retry.")

export const previewTimedOut = (error: QueryTimeout) =>
  fail(
    GatewayTimeout,
    "preview_timeout",
    `The preview did not finish within ${Math.round(error.afterMillis / 1000)} seconds. Try a shorter date range, ` +
      "or export the report: an export may take longer."
  )

export const reportUnavailable = (_: QueryFailed) =>
  fail(ServiceUnavailable, "report_unavailable", "The report cannot be read right now. Please retry in a minute.")

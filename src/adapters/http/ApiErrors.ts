// One JSON error shape for every failure the API answers: { error: { code, message, details? }, requestId }.
// The domain's errors are translated here, per status, so the domain never speaks HTTP.
import { HttpApiSchema } from "@effect/platform"
import { Effect, FiberRef, Schema } from "effect"
import type {
  ExportExpired,
  ExportNotReady,
  IdempotencyKeyReused,
  JobNotFound,
  JobStoreUnavailable,
  NotificationFailed,
  NotificationNotFound,
  QueueUnavailable,
  ValidationError
} from "../../domain/Errors.js"
import type { LinkSigningFailed } from "../../domain/Errors.js"

/** The id of the request being served, set by the server for each request and echoed in `x-request-id`. */
export const currentRequestId = FiberRef.unsafeMake("-")

export const FieldIssueBody = Schema.Struct({
  field: Schema.String,
  rule: Schema.String,
  message: Schema.String
})

export const ErrorBody = Schema.Struct({
  code: Schema.String,
  message: Schema.String,
  details: Schema.optional(Schema.Array(FieldIssueBody))
})

const errorFields = { error: ErrorBody, requestId: Schema.String }

export class BadRequest
  extends Schema.Class<BadRequest>("BadRequest")(errorFields, HttpApiSchema.annotations({ status: 400 }))
{}
export class Unauthorized
  extends Schema.Class<Unauthorized>("Unauthorized")(errorFields, HttpApiSchema.annotations({ status: 401 }))
{}
export class Forbidden
  extends Schema.Class<Forbidden>("Forbidden")(errorFields, HttpApiSchema.annotations({ status: 403 }))
{}
export class NotFound
  extends Schema.Class<NotFound>("NotFound")(errorFields, HttpApiSchema.annotations({ status: 404 }))
{}
export class Conflict
  extends Schema.Class<Conflict>("Conflict")(errorFields, HttpApiSchema.annotations({ status: 409 }))
{}
export class Gone extends Schema.Class<Gone>("Gone")(errorFields, HttpApiSchema.annotations({ status: 410 })) {}
export class PayloadTooLarge
  extends Schema.Class<PayloadTooLarge>("PayloadTooLarge")(errorFields, HttpApiSchema.annotations({ status: 413 }))
{}
export class UnsupportedMediaType extends Schema.Class<UnsupportedMediaType>("UnsupportedMediaType")(
  errorFields,
  HttpApiSchema.annotations({ status: 415 })
) {}
export class ServiceUnavailable extends Schema.Class<ServiceUnavailable>("ServiceUnavailable")(
  errorFields,
  HttpApiSchema.annotations({ status: 503 })
) {}

type ErrorClass<E> = new(props: { error: typeof ErrorBody.Type; requestId: string }) => E

/** Builds an API error for the current request. */
export const apiError = <E>(
  Class: ErrorClass<E>,
  code: string,
  message: string,
  details?: ReadonlyArray<typeof FieldIssueBody.Type>
): Effect.Effect<E> =>
  Effect.map(
    FiberRef.get(currentRequestId),
    (requestId) => new Class({ error: { code, message, ...(details === undefined ? {} : { details }) }, requestId })
  )

export const fail = <E>(
  Class: ErrorClass<E>,
  code: string,
  message: string,
  details?: ReadonlyArray<typeof FieldIssueBody.Type>
): Effect.Effect<never, E> => Effect.flatMap(apiError(Class, code, message, details), Effect.fail)

// ---- translations of the domain's errors ----

export const invalidRequest = (error: ValidationError, rename: (field: string) => string = (field) => field) =>
  fail(
    BadRequest,
    "invalid_request",
    "The request is not valid: see details for each field.",
    error.issues.map((issue) => ({ field: rename(issue.field), rule: issue.rule, message: issue.message }))
  )

export const exportNotFound = (_: JobNotFound) => fail(NotFound, "export_not_found", "No such export.")

export const notificationNotFound = (_: NotificationNotFound) =>
  fail(NotFound, "notification_not_found", "No such notification.")

export const queueUnavailable = (_: QueueUnavailable) =>
  fail(ServiceUnavailable, "queue_unavailable", "Exports cannot be started right now. Please retry in a minute.")

export const storeUnavailable = (_: JobStoreUnavailable) =>
  fail(ServiceUnavailable, "store_unavailable", "Exports are unavailable right now. Please retry in a minute.")

export const notificationsUnavailable = (_: NotificationFailed) =>
  fail(ServiceUnavailable, "notifications_unavailable", "Notifications are unavailable right now.")

export const idempotencyKeyReused = (_: IdempotencyKeyReused) =>
  fail(
    Conflict,
    "idempotency_key_reused",
    "This Idempotency-Key was used in the last 24 hours for a different export."
  )

export const exportNotReady = (error: ExportNotReady) =>
  fail(
    Conflict,
    "export_not_ready",
    error.status === "Queued" || error.status === "Running"
      ? "The export is not finished yet."
      : "This export has no file to download."
  )

export const exportExpired = (_: ExportExpired) =>
  fail(Gone, "export_expired", "This export has expired. Please export the report again.")

export const linkUnavailable = (_: LinkSigningFailed) =>
  fail(ServiceUnavailable, "download_unavailable", "The download link cannot be made right now. Please retry.")

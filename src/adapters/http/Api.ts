// The HTTP API, declared apart from its handlers: paths, payloads, responses, error statuses and security.
// The server, the Lambda handler, the OpenAPI document and the typed client are all derived from it.
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema, SchemaAST } from "effect"
import { AuditAction } from "../../domain/Audit.js"
import { IDEMPOTENCY_WINDOW } from "../../domain/ExportJob.js"
import { ExportFormat } from "../../domain/FileFormats.js"
import { maxRangeDaysOf, ReportCatalogue } from "../../domain/Reports.js"
import type { ReportDefinition, ReportDefinitions } from "../../domain/Reports.js"
import {
  BadRequest,
  Conflict,
  GatewayTimeout,
  Gone,
  NotFound,
  PayloadTooLarge,
  ServiceUnavailable,
  TooManyRequests,
  UnsupportedMediaType
} from "./ApiErrors.js"
import { Authentication } from "./Authentication.js"
import { conditionalGet } from "./ConditionalGet.js"
import { EventsGroup } from "./EventsApi.js"

export const ExportStatus = Schema.Literal("queued", "running", "succeeded", "failed", "cancelled")
export type ExportStatus = typeof ExportStatus.Type

/** A body's schema for one report, as `bodyOf` builds it. */
type BodyOf<D extends ReportDefinition> = Schema.extend<
  Schema.Struct<{ reportType: Schema.Literal<[D["reportType"]]>; format: typeof ExportFormat }>,
  Schema.SchemaClass<Schema.Schema.Encoded<D["params"]>>
>

/**
 * The body of POST /api/v1/reports/export for one report: reportType and format beside the report's own parameters,
 * flat. Its parameters as a client writes them: a parameter with a default is optional, the application applies it.
 */
const bodyOf = (definition: ReportDefinition) =>
  Schema.extend(
    Schema.Struct({ reportType: Schema.Literal(definition.reportType), format: ExportFormat }),
    Schema.encodedBoundSchema(definition.params)
  )

type BodyMembers<Ds extends ReportDefinitions> = {
  readonly [K in keyof Ds]: Ds[K] extends ReportDefinition ? BodyOf<Ds[K]> : never
}

/** The body of POST /api/v1/reports/export: one member per report of `catalogue`, told apart by reportType. */
export const exportRequestBodyOf = <Ds extends ReportDefinitions>(catalogue: { readonly definitions: Ds }) =>
  // One member per definition, in order: what BodyMembers says, which the compiler cannot follow through a map.
  Schema.Union(...catalogue.definitions.map(bodyOf)) as unknown as Schema.Union<BodyMembers<Ds>>

/** "a", "a and b", "a, b and c". */
const listed = (names: ReadonlyArray<string>): string =>
  names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`

/**
 * What the body's schema cannot say, from the catalogue: the dates' form and each report's longest range. On the
 * endpoint, because the platform splits a payload union into its members and drops the union's own description.
 */
const datesDescription = (definitions: ReadonlyArray<ReportDefinition>): string => {
  const reportsByDays = new Map<number, Array<string>>()
  for (const definition of definitions) {
    const days = maxRangeDaysOf(definition.params)
    if (days !== undefined) reportsByDays.set(days, [...(reportsByDays.get(days) ?? []), definition.reportType])
  }
  const limits = [...reportsByDays].sort(([a], [b]) => a - b).map(([days, reports]) =>
    `${listed(reports)} to ${days} days`
  )
  return "Dates are YYYY-MM-DD, both included, in `timezone` (IANA, default UTC). Ranges are limited: " +
    `${limits.join(", ")}.`
}

export class ExportAccepted extends Schema.Class<ExportAccepted>("ExportAccepted")({
  jobId: Schema.String,
  status: ExportStatus,
  statusUrl: Schema.String
}) {}

export class ExportFile extends Schema.Class<ExportFile>("ExportFile")({
  rowCount: Schema.Number,
  byteSize: Schema.Number,
  sha256: Schema.String,
  expiresAt: Schema.DateTimeUtc,
  expired: Schema.Boolean,
  /** Our download endpoint: it checks the caller again and redirects to a short-lived signed link. */
  downloadUrl: Schema.String
}) {}

/** How far a running export has got; `totalRows` and `percent` where the report's source says (ClickHouse). */
export class ExportProgress extends Schema.Class<ExportProgress>("ExportProgress")({
  rows: Schema.Number.annotations({ description: "Rows written so far" }),
  bytes: Schema.Number.annotations({ description: "Bytes written so far" }),
  totalRows: Schema.optional(Schema.Number.annotations({ description: "Rows the source will read in all" })),
  percent: Schema.optional(
    Schema.Number.annotations({ description: "Share of those rows read, 0 to 100; never goes back" })
  )
}) {}

export class ExportFailure extends Schema.Class<ExportFailure>("ExportFailure")({
  reason: Schema.String,
  message: Schema.String,
  retryable: Schema.Boolean
}) {}

export class ExportView extends Schema.Class<ExportView>("ExportView")({
  jobId: Schema.String,
  status: ExportStatus,
  reportType: Schema.String,
  format: ExportFormat,
  params: Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number) }),
  requestedAt: Schema.DateTimeUtc,
  startedAt: Schema.optional(Schema.DateTimeUtc),
  finishedAt: Schema.optional(Schema.DateTimeUtc),
  attempts: Schema.Number,
  statusUrl: Schema.String,
  /** While the export runs, once its worker first reported. */
  progress: Schema.optional(ExportProgress),
  file: Schema.optional(ExportFile),
  failure: Schema.optional(ExportFailure)
}) {}

export class ExportList extends Schema.Class<ExportList>("ExportList")({
  items: Schema.Array(ExportView),
  nextCursor: Schema.optional(Schema.String)
}) {}

export class DownloadLink extends Schema.Class<DownloadLink>("DownloadLink")({
  url: Schema.String,
  expiresAt: Schema.DateTimeUtc
}) {}

/** Who did it: a signed-in user, or whoever held a signed link to the file. */
export const AuditActorView = Schema.Union(
  Schema.Struct({ type: Schema.Literal("user"), userId: Schema.String }),
  Schema.Struct({ type: Schema.Literal("signed_link") })
)

export class AuditEntryView extends Schema.Class<AuditEntryView>("AuditEntryView")({
  action: Schema.Literal("requested", ...AuditAction.literals),
  actor: AuditActorView,
  at: Schema.DateTimeUtc
}) {}

export class ExportAuditTrail extends Schema.Class<ExportAuditTrail>("ExportAuditTrail")({
  /** Oldest first: the request, then what happened to the export since. */
  items: Schema.Array(AuditEntryView)
}) {}

export class NotificationView extends Schema.Class<NotificationView>("NotificationView")({
  id: Schema.String,
  jobId: Schema.String,
  kind: Schema.Literal("export_succeeded", "export_failed", "export_cancelled"),
  title: Schema.String,
  body: Schema.String,
  link: Schema.String,
  createdAt: Schema.DateTimeUtc,
  readAt: Schema.optional(Schema.DateTimeUtc)
}) {}

export class NotificationList extends Schema.Class<NotificationList>("NotificationList")({
  items: Schema.Array(NotificationView)
}) {}

export class PreviewColumn extends Schema.Class<PreviewColumn>("PreviewColumn")({
  /** The column's name in the report's SQL. */
  name: Schema.String,
  /** How its cells are written: integers as numbers, decimals, dates and times as text ("12.5", "2025-01-31"). */
  type: Schema.Literal("string", "integer", "decimal", "date", "datetime"),
  /** Its heading in the exported file. */
  header: Schema.String
}) {}

/** A cell as a preview shows it, its column telling its type; an integer past 2^53 is text, as exact digits. */
export const PreviewCell = Schema.Union(Schema.String, Schema.Number, Schema.Null)

export class ReportPreview extends Schema.Class<ReportPreview>("ReportPreview")({
  columns: Schema.Array(PreviewColumn),
  /** At most 100 rows, the report's first in its own order, each with a cell per column. */
  rows: Schema.Array(Schema.Array(PreviewCell)),
  /** Whether the report has more rows than these. */
  more: Schema.Boolean
}) {}

export class Health extends Schema.Class<Health>("Health")({ status: Schema.Literal("ok") }) {}

export class Readiness extends Schema.Class<Readiness>("Readiness")({
  status: Schema.Literal("ready"),
  checks: Schema.Record({ key: Schema.String, value: Schema.String })
}) {}

const QueryValue = Schema.Union(Schema.String, Schema.Array(Schema.String))

const jobId = HttpApiSchema.param("jobId", Schema.String)
const notificationId = HttpApiSchema.param("notificationId", Schema.String)

/** Every route that starts an export says when it is refused (ADR 45). */
const TOO_MANY_EXPORTS_DESCRIPTION = "A user, and a merchant, may have only so many exports queued or running at " +
  "once (EXPORTS_PER_USER, EXPORTS_PER_MERCHANT): one more is a 429 `too_many_exports` with Retry-After, its " +
  "details naming the limit; a repeat of an accepted request (same Idempotency-Key) still answers its 202. "

/** The exports group, with `catalogue`'s reports in the body and the documentation of an export request. */
const exportsGroupOf = <Ds extends ReportDefinitions>(catalogue: { readonly definitions: Ds }) =>
  HttpApiGroup.make("exports")
    .add(
      HttpApiEndpoint.post("requestExport", "/api/v1/reports/export")
        .setPayload(exportRequestBodyOf(catalogue))
        .setHeaders(Schema.Struct({ "idempotency-key": Schema.optional(Schema.String) }))
        .addSuccess(ExportAccepted, { status: 202 })
        .addError(BadRequest)
        .addError(Conflict)
        .addError(PayloadTooLarge)
        .addError(UnsupportedMediaType)
        .addError(TooManyRequests)
        .annotate(OpenApi.Summary, "Start an export")
        .annotate(
          OpenApi.Description,
          "Validates the request, queues the export and answers at once with its job id. The same Idempotency-Key " +
            `within ${IDEMPOTENCY_WINDOW} answers with the same job; a different body under that key is a 409. A key ` +
            "answered 503 queue_unavailable started nothing: retried, it starts the export. " +
            TOO_MANY_EXPORTS_DESCRIPTION +
            datesDescription(catalogue.definitions)
        )
    )
    .add(
      HttpApiEndpoint.get("listExports", "/api/v1/reports/exports")
        // Repeated parameters decode here and are refused by the use case, in the API's own error shape.
        .setUrlParams(Schema.Struct({ limit: Schema.optional(QueryValue), cursor: Schema.optional(QueryValue) }))
        .addSuccess(ExportList)
        .addError(BadRequest)
        .annotate(OpenApi.Summary, "The caller's exports, newest first")
        .annotateContext(conditionalGet)
    )
    .add(
      HttpApiEndpoint.get("getExport")`/api/v1/reports/exports/${jobId}`
        .addSuccess(ExportView)
        .addError(NotFound)
        .annotate(OpenApi.Summary, "An export's state, and its file once finished")
        .annotateContext(conditionalGet)
    )
    .add(
      HttpApiEndpoint.post("cancelExport")`/api/v1/reports/exports/${jobId}/cancel`
        .addSuccess(ExportView)
        .addError(NotFound)
        .addError(Conflict)
        .annotate(OpenApi.Summary, "Cancel an export")
        .annotate(
          OpenApi.Description,
          "A queued export is cancelled at once; a running one is stopped by its worker within 2 seconds, and no file " +
            "is kept. The caller gets one in-app notice, no email. Cancelling a cancelled export again answers the " +
            "same; a finished one is a 409 `export_finished`."
        )
    )
    .add(
      HttpApiEndpoint.get("downloadExport")`/api/v1/reports/exports/${jobId}/download`
        .addSuccess(DownloadLink)
        .addError(NotFound)
        .addError(Conflict)
        .addError(Gone)
        .annotate(OpenApi.Summary, "Download an export")
        .annotate(
          OpenApi.Description,
          "Checks the caller and the expiry at click time, then redirects (302) to a signed link valid a few minutes. " +
            "A client that sends `Accept: application/json` gets `{ url, expiresAt }` instead."
        )
    )
    .add(
      HttpApiEndpoint.get("getExportAudit")`/api/v1/reports/exports/${jobId}/audit`
        .addSuccess(ExportAuditTrail)
        .addError(NotFound)
        .annotate(OpenApi.Summary, "Who did what to an export, and when")
        .annotate(
          OpenApi.Description,
          "The export's owner only, oldest first: its request, its cancel, every download link its owner asked for " +
            "(`download_link_issued`) and, where the file store serves its own signed links (the embedded server), " +
            "every use of one (`file_downloaded`, by `signed_link`: a link names no one). Links served by S3 or R2, " +
            "such as the e-mail's, are not seen. Kept as long as the export's record."
        )
    )
    .add(
      HttpApiEndpoint.post("exportAgain")`/api/v1/reports/exports/${jobId}/retry`
        .setHeaders(Schema.Struct({ "idempotency-key": Schema.optional(Schema.String) }))
        .addSuccess(ExportAccepted, { status: 202 })
        .addError(BadRequest)
        .addError(NotFound)
        .addError(Conflict)
        .addError(TooManyRequests)
        .annotate(OpenApi.Summary, "Export again")
        .annotate(
          OpenApi.Description,
          "Starts a new export with the report, parameters and format of a failed, cancelled or expired export, and " +
            "answers as `POST /api/v1/reports/export` does: 202 with the new job and its Location, the same " +
            "Idempotency-Key rules, and the job of an identical export still in progress rather than a second one. " +
            "An export still in progress, or whose file can still be downloaded, is a 409 `export_not_retryable`. " +
            TOO_MANY_EXPORTS_DESCRIPTION
        )
    )
    .addError(ServiceUnavailable)
    .middleware(Authentication)

const reportType = (catalogue: { readonly definitions: ReportDefinitions }) =>
  HttpApiSchema.param(
    "reportType",
    // Any text decodes: a report the catalogue does not have is the use case's to refuse, in the API's error shape.
    Schema.String.annotations({
      jsonSchema: { type: "string", enum: catalogue.definitions.map((definition) => definition.reportType) }
    })
  )

/**
 * The query of a preview: each parameter any report takes, as text (repeated, a list), described with the reports
 * that take it. What each report accepts, and how, is checked by the use case with the export request's rules.
 */
const previewUrlParamsOf = (definitions: ReadonlyArray<ReportDefinition>) => {
  const reportsByParam = new Map<string, Array<string>>()
  for (const definition of definitions) {
    for (const property of SchemaAST.getPropertySignatures(SchemaAST.encodedAST(definition.params.ast))) {
      const name = String(property.name)
      reportsByParam.set(name, [...(reportsByParam.get(name) ?? []), definition.reportType])
    }
  }
  const all = definitions.length
  return Schema.Struct(Object.fromEntries(
    Array.from(reportsByParam, ([name, reports]) => [
      name,
      Schema.optional(QueryValue.annotations({
        description: reports.length === all ? "Every report's" : `For ${listed(reports)}`
      }))
    ])
  ))
}

/** The reports group: a report's preview, with `catalogue`'s reports and parameters. */
const reportsGroupOf = <Ds extends ReportDefinitions>(catalogue: { readonly definitions: Ds }) =>
  HttpApiGroup.make("reports")
    .add(
      HttpApiEndpoint.get("previewReport")`/api/v1/reports/${reportType(catalogue)}/preview`
        .setUrlParams(previewUrlParamsOf(catalogue.definitions))
        .addSuccess(ReportPreview)
        .addError(BadRequest)
        .addError(GatewayTimeout)
        .annotate(OpenApi.Summary, "The first rows of a report")
        .annotate(
          OpenApi.Description,
          "The caller's merchant's first 100 rows of the report, from the query an export of it runs, for the same " +
            "parameters as `POST /api/v1/reports/export` takes in its body (no `format`), here in the query: " +
            "`?dateFrom=2025-01-01&dateTo=2025-01-31&timezone=Europe/Paris`. The same rules, and the same 400 naming " +
            "each failing parameter. `more` says whether the report goes on. A preview that takes longer than " +
            "`PREVIEW_TIMEOUT` (5 seconds) is a 504 `preview_timeout`; a report that cannot be read, a 503 " +
            "`report_unavailable`. " + datesDescription(catalogue.definitions)
        )
    )
    .addError(ServiceUnavailable)
    .middleware(Authentication)

export class NotificationsGroup extends HttpApiGroup.make("notifications")
  .add(
    HttpApiEndpoint.get("listNotifications", "/api/v1/notifications").addSuccess(NotificationList)
      .annotateContext(conditionalGet)
  )
  .add(
    HttpApiEndpoint.post("markNotificationRead")`/api/v1/notifications/${notificationId}/read`
      .addSuccess(NotificationView)
      .addError(NotFound)
  )
  .addError(ServiceUnavailable)
  .middleware(Authentication)
{}

export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Health))
  .add(HttpApiEndpoint.get("ready", "/ready").addSuccess(Readiness).addError(ServiceUnavailable))
{}

/** The API, with `catalogue`'s reports: a test builds it with a catalogue of its own to read its documentation. */
export const exportApiOf = <Ds extends ReportDefinitions>(catalogue: { readonly definitions: Ds }) =>
  HttpApi.make("async-data-export")
    .add(exportsGroupOf(catalogue))
    .add(reportsGroupOf(catalogue))
    .add(NotificationsGroup)
    .add(HealthGroup)
    .add(EventsGroup)
    .annotate(OpenApi.Title, "async-data-export")
    .annotate(OpenApi.Description, "Large CSV exports: 202 Accepted now, a signed download link later.")

export class ExportApi extends exportApiOf(ReportCatalogue) {}

// A report's first rows, for a person choosing its parameters before exporting it (ADR 35): validated as an export
// request is, read by the export's own merchant-scoped query, cut off by the source after PREVIEW_ROWS rows and
// given PREVIEW_TIMEOUT in all.
import { Duration, Effect, Schema } from "effect"
import { QueryTimeout } from "../domain/Errors.js"
import type { ReportDefinition, ReportRequest, ReportRow } from "../domain/Reports.js"
import { decodeInput } from "../domain/Validation.js"
import { CurrentCatalogue, perCatalogue } from "./CurrentCatalogue.js"
import { ExportSettings } from "./ExportSettings.js"
import { JobIds } from "./JobIds.js"
import { ReportSource } from "./ports/ReportSource.js"
import type { Caller, ExportCommand } from "./RequestExport.js"
import { reportFieldsOf } from "./RequestExport.js"

/** The most rows a preview shows: a page to check the parameters by, not the report. */
export const PREVIEW_ROWS = 100

/** What a client sends: a report and its parameters, as an export request names them, without a format. */
export type PreviewCommand = Omit<ExportCommand, "format">

/** The commands a catalogue's reports accept for a preview: one member per report, with the export's rules. */
export const previewCommandOf = perCatalogue((catalogue) =>
  // One member per definition, its reportType paired with its own params, as for an export.
  Schema.Union(
    ...catalogue.definitions.map((definition) => Schema.Struct(reportFieldsOf(definition)))
  ) as unknown as Schema.Schema<PreviewCommand, unknown>
)

const commandDecoderOf = perCatalogue((catalogue) => decodeInput(previewCommandOf(catalogue)))

export interface ReportPreview {
  /** The report's definition: its columns name and type the rows' cells. */
  readonly definition: ReportDefinition
  /** At most PREVIEW_ROWS rows, the report's first in its own order. */
  readonly rows: ReadonlyArray<ReportRow>
  /** Whether the report has rows beyond these. */
  readonly more: boolean
}

/**
 * The caller's merchant's first rows of the report `input` names. Fails with the ValidationError an export request
 * with the same report and parameters would get, or the source's QueryTimeout (PREVIEW_TIMEOUT passed, counted here
 * as well as by the source) or QueryFailed.
 */
export const previewReport = Effect.fn("Reports.preview")(function*(caller: Caller, input: unknown) {
  const catalogue = yield* CurrentCatalogue
  const command = yield* commandDecoderOf(catalogue)(input)
  const report = { _tag: command.reportType, params: command.params } as ReportRequest
  const { previewTimeout } = yield* ExportSettings
  // Names the query at the source, where a query left running can be found and stopped.
  const queryId = yield* JobIds.pipe(Effect.flatMap((ids) => ids.next))
  const source = yield* ReportSource
  // One row more than is shown tells whether there are more.
  const rows = yield* source.preview({
    jobId: queryId,
    merchantId: caller.owner.merchantId,
    report,
    timeout: previewTimeout,
    limit: PREVIEW_ROWS + 1
  }).pipe(
    Effect.timeoutFail({
      duration: previewTimeout,
      onTimeout: () =>
        new QueryTimeout({ jobId: queryId, afterMillis: Duration.toMillis(previewTimeout), rowsBeforeTimeout: 0 })
    }),
    Effect.annotateLogs({ queryId })
  )
  return {
    definition: catalogue.definitionOf(report),
    rows: rows.slice(0, PREVIEW_ROWS),
    more: rows.length > PREVIEW_ROWS
  } satisfies ReportPreview
})

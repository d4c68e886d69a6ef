// A report source that fails on purpose, for showing a failure path in a browser (ADR 37): it wraps the source in
// context and answers its queries as that source answers a query past its time limit. Composed only by the embedded
// runtime, and only when EMBEDDED_FAULTS asks for it.
import { Duration, Effect, Layer, Stream } from "effect"
import { ReportSource } from "../../application/ports/ReportSource.js"
import type { PreviewQuery, ReportQuery } from "../../application/ports/ReportSource.js"
import { QueryTimeout } from "../../domain/Errors.js"

/** The faults there are: every export's query times out; every preview times out. */
export const REPORT_FAULTS = ["query-timeout", "preview-timeout"] as const
export type ReportFault = typeof REPORT_FAULTS[number]

/** What a source says of a query that ran past its timeout before any row: the timeout, and no rows read. */
const timedOut = (query: ReportQuery | PreviewQuery) =>
  new QueryTimeout({ jobId: query.jobId, afterMillis: Duration.toMillis(query.timeout), rowsBeforeTimeout: 0 })

/** The source in context, with `faults` injected; with none, the source as it is. */
export const layer = (faults: ReadonlySet<ReportFault>) =>
  Layer.effect(
    ReportSource,
    Effect.map(ReportSource, (source) =>
      ReportSource.of({
        rows: faults.has("query-timeout") ? (query) => Stream.fail(timedOut(query)) : source.rows,
        csv: faults.has("query-timeout") ? (query) => Stream.fail(timedOut(query)) : source.csv,
        parquet: faults.has("query-timeout") ? (query) => Stream.fail(timedOut(query)) : source.parquet,
        preview: faults.has("preview-timeout") ? (query) => Effect.fail(timedOut(query)) : source.preview
      }))
  )

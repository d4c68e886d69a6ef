// The rows one export may write (ADR 45), enforced on the worker's side of the ReportSource while the rows stream:
// past the limit the stream fails, so the attempt's upload is aborted and no partial file is ever published, and the
// job fails with a message that asks for a narrower range. The API cannot know a report's size without querying it.
import { Effect, Stream } from "effect"
import { QueryFailed } from "../domain/Errors.js"
import type { ReportQuery } from "./ports/ReportSource.js"
import { ReportSource } from "./ports/ReportSource.js"

const tooMany = (query: ReportQuery, rowLimit: number) =>
  new QueryFailed({
    jobId: query.jobId,
    detail: `the report passed ${rowLimit} rows, the most one export may write`,
    retryable: false,
    rowLimit
  })

/** Fails `stream` once the rows its elements hold (`rowsOf`) pass `rowLimit`, counted per run. */
const limited = <A, E>(
  stream: Stream.Stream<A, E>,
  rowsOf: (element: A) => number,
  query: ReportQuery,
  rowLimit: number
): Stream.Stream<A, E | QueryFailed> =>
  Stream.suspend(() => {
    let rows = 0
    return Stream.mapChunksEffect(stream, (chunk) => {
      for (const element of chunk) rows += rowsOf(element)
      return rows > rowLimit ? Effect.fail(tooMany(query, rowLimit)) : Effect.succeed(chunk)
    })
  })

/** `source` with its export streams limited to `rowLimit` rows; a preview reads a few rows and is left alone. */
export const rowLimited = (source: ReportSource["Type"], rowLimit: number): ReportSource["Type"] =>
  ReportSource.of({
    rows: (query) => limited(source.rows(query), () => 1, query, rowLimit),
    csv: (query) => limited(source.csv(query), (piece) => piece.rows, query, rowLimit),
    // A Parquet file's rows are counted by its footer, at its end: the limit holds there, before it is published.
    parquet: (query) => limited(source.parquet(query), (piece) => piece.rows, query, rowLimit),
    preview: source.preview
  })

/** Runs `effect` with the ReportSource in context limited to `rowLimit` rows an export. */
export const withRowLimit = (rowLimit: number) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.updateService(effect, ReportSource, (source) => rowLimited(source, rowLimit))

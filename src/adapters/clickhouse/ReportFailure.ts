// What a failed report query means to an export, for every adapter that runs the catalogue on a ClickHouse engine
// (the server over HTTP, the embedded chdb): each adapter says whether it timed out, its words and whether another
// attempt may succeed; this turns that into the port's errors the same way for both.
import { Duration } from "effect"
import type { ReportQuery } from "../../application/ports/ReportSource.js"
import { QueryFailed, QueryTimeout } from "../../domain/Errors.js"
import type { ExportFormat } from "../../domain/FileFormats.js"

/** ClickHouse's TIMEOUT_EXCEEDED: the query ran past its `max_execution_time`. */
export const TIMEOUT_EXCEEDED = 159

const MAX_DETAIL_LENGTH = 1_000

/** A timeout is the user's to act on (narrow the range); any other failure is ours, with ClickHouse's words. */
export const reportFailure = (
  query: ReportQuery,
  rowsRead: number,
  failure: {
    readonly timedOut: boolean
    readonly detail: string
    readonly retryable: boolean
    /** The engine cannot write this format at all. */
    readonly unavailableFormat?: ExportFormat
  }
): QueryTimeout | QueryFailed =>
  failure.timedOut
    ? new QueryTimeout({
      jobId: query.jobId,
      afterMillis: Duration.toMillis(query.timeout),
      rowsBeforeTimeout: rowsRead
    })
    : new QueryFailed({
      jobId: query.jobId,
      detail: failure.detail.slice(0, MAX_DETAIL_LENGTH),
      retryable: failure.retryable,
      ...(failure.unavailableFormat === undefined ? {} : { unavailableFormat: failure.unavailableFormat })
    })

import type { Duration, Stream } from "effect"
import { Context } from "effect"
import type { QueryFailed, QueryTimeout } from "../../domain/Errors.js"
import type { ExportJobId, MerchantId } from "../../domain/Identifiers.js"
import type { ReportRequest, ReportRow } from "../../domain/Reports.js"

export interface ReportQuery {
  /** Also the query's id at the source, so a running query can be found and killed. */
  readonly jobId: ExportJobId
  /** The tenant: a source must return this merchant's rows and no other's. */
  readonly merchantId: MerchantId
  readonly report: ReportRequest
  /** The longest the query may run, from its start to its last row. */
  readonly timeout: Duration.Duration
}

/** Rows of a report, streamed: a source never holds a whole result in memory. */
export class ReportSource extends Context.Tag("exports/ReportSource")<ReportSource, {
  readonly rows: (query: ReportQuery) => Stream.Stream<ReportRow, QueryTimeout | QueryFailed>
}>() {}

// Both ways of reading a report from a ReportSource, each as the number of rows delivered piece by piece: for the
// tests that hold for either (timeouts, failures, interruption).
import { Stream } from "effect"
import type { ReportQuery, ReportSource } from "../../src/application/ports/ReportSource.js"

export const REPORT_READS = {
  rows: (source: ReportSource["Type"], query: ReportQuery) => Stream.map(source.rows(query), () => 1),
  csv: (source: ReportSource["Type"], query: ReportQuery) => Stream.map(source.csv(query), (piece) => piece.rows)
}

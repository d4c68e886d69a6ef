// How an export is described to a person: its report and parameters, its state, its numbers and dates.
import { DateTime } from "effect"
import type { ExportView } from "../../../src/adapters/http/Api.ts"
import { ReportCatalogue } from "../../../src/domain/Reports.ts"

const titles = new Map<string, string>(ReportCatalogue.definitions.map((report) => [report.reportType, report.title]))

export const reportTitle = (reportType: string): string => titles.get(reportType) ?? reportType

/** "Orders, 2025-01-01 to 2025-03-31, Europe/Paris, status paid". */
export const exportTitle = (view: ExportView): string => {
  const { dateFrom, dateTo, timezone, ...others } = view.params
  const extras = Object.entries(others).map(([name, value]) => `${name} ${value}`)
  return [
    reportTitle(view.reportType),
    `${dateFrom} to ${dateTo}`,
    ...(timezone === undefined ? [] : [String(timezone)]),
    ...extras
  ].join(", ")
}

export const isExpired = (view: ExportView): boolean => view.file?.expired === true

export const statusWords = (view: ExportView): string => {
  switch (view.status) {
    case "queued":
      return "Waiting to start"
    case "running":
      return "Running"
    case "succeeded":
      return isExpired(view) ? "Expired" : "Ready"
    case "failed":
      return "Failed"
    case "cancelled":
      return "Cancelled"
  }
}

const numbers = new Intl.NumberFormat()
export const count = (n: number): string => numbers.format(n)

const dateTimes = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" })
export const when = (at: DateTime.DateTime): string => dateTimes.format(DateTime.toDateUtc(at))

/**
 * The share done, 0 to 100, when it is known: from the source while running (none on chdb: the bar then moves
 * without a value), 100 once the file is written, where it stopped (or 0) once failed or cancelled.
 */
export const percentDone = (view: ExportView): number | undefined => {
  if (view.status === "succeeded") return 100
  if (view.status === "running") return view.progress?.percent
  return view.progress?.percent ?? 0
}

/** What the progress bar says in words. */
export const progressWords = (view: ExportView): string => {
  const percent = percentDone(view)
  const rows = view.progress === undefined ? undefined : `${count(view.progress.rows)} rows written`
  switch (view.status) {
    case "queued":
      return "Not started"
    case "running":
      return [percent === undefined ? undefined : `${Math.floor(percent)}%`, rows ?? "Starting"]
        .filter((part) => part !== undefined).join(", ")
    case "succeeded":
      return "Done"
    default:
      return "Stopped"
  }
}

import { lazy, Suspense, useState } from "react"
import { ReportCatalogue, SalesTrend } from "../../../src/domain/Reports.ts"
import { PageHeading } from "../app/PageHeading.tsx"
import { session } from "../auth/Session.ts"
import { ExportButton } from "../exports/ExportButton.tsx"
import { useStore } from "../lib/useStore.ts"
import { defaultsOf } from "./ParamFields.ts"
import { PreviewTable } from "./PreviewTable.tsx"
import type { Draft } from "./ReportDraft.ts"
import { checkDraft } from "./ReportDraft.ts"
import { ReportForm } from "./ReportForm.tsx"
import { localTimeZone } from "./TimeZones.ts"
import { useReportPreview } from "./useReportPreview.ts"

const SalesChart = lazy(() => import("./SalesChart.tsx"))

const isoDay = (date: Date): string => date.toISOString().slice(0, 10)

type DayRange = { readonly dateFrom: string; readonly dateTo: string }

const firstOfMonth = (day: Date): Date => new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), 1))
const dayBefore = (day: Date): Date => new Date(day.getTime() - 86_400_000)

/**
 * Last calendar month, a range every report accepts; or, on a demo whose data ends before that, the demo's last month
 * up to its last day, so that the first preview has rows.
 */
const openingRange = (demoDays: DayRange | undefined): DayRange => {
  const endOfLastMonth = dayBefore(firstOfMonth(new Date()))
  const end = demoDays !== undefined && isoDay(endOfLastMonth) > demoDays.dateTo
    ? new Date(`${demoDays.dateTo}T00:00:00Z`)
    : endOfLastMonth
  const start = isoDay(firstOfMonth(end))
  return {
    dateFrom: demoDays !== undefined && start < demoDays.dateFrom ? demoDays.dateFrom : start,
    dateTo: isoDay(end)
  }
}

const initialDraft = (demoDays: DayRange | undefined): Draft => {
  const range = openingRange(demoDays)
  // Every report's defaults (granularity "day", limit 100), so that switching report shows its own.
  const defaults = ReportCatalogue.definitions.reduce<Readonly<Record<string, string>>>(
    (merged, report) => ({ ...merged, ...defaultsOf(report, range) }),
    {}
  )
  return {
    reportType: ReportCatalogue.definitions[0].reportType,
    format: "csv",
    values: { ...defaults, timezone: localTimeZone() }
  }
}

/** Reports: pick a report, its parameters and a file format, see its first rows, export it. */
export const ReportsPage = () => {
  const { current } = useStore(session)
  const [draft, setDraft] = useState(() => initialDraft(current?.demoDays))
  const checked = checkDraft(draft)
  const preview = useReportPreview(checked.report.reportType, checked._tag === "Valid" ? checked.query : undefined)
  const latest = preview._tag === "Ready" ? preview : preview._tag === "Loading" ? preview.last : undefined
  // While another report's preview loads, the last one of this report only.
  const shown = latest?.reportType === checked.report.reportType ? latest.preview : undefined
  const caption = shown === undefined
    ? ""
    : shown.rows.length === 0
    ? `${checked.report.title}: no rows for these parameters`
    : `${checked.report.title}: ${shown.more ? "first" : "all"} ${shown.rows.length} rows`

  return (
    <>
      <PageHeading>Reports</PageHeading>
      <ReportForm draft={draft} issues={checked._tag === "Invalid" ? checked.issues : []} onChange={setDraft} />
      <ExportButton body={checked._tag === "Valid" ? checked.body : undefined} />
      <section className="preview" aria-labelledby="preview-heading" aria-busy={preview._tag === "Loading"}>
        <h2 id="preview-heading">Preview</h2>
        {preview._tag === "Waiting" && <p>Fix the parameters above to see a preview.</p>}
        {preview._tag === "Loading" && shown === undefined && <p>Loading the preview…</p>}
        {preview._tag === "Failed" && <p className="problem" role="alert">{preview.message}</p>}
        {shown !== undefined && checked.report.reportType === SalesTrend.reportType && shown.rows.length > 1 && (
          <Suspense fallback={null}>
            <SalesChart preview={shown} />
          </Suspense>
        )}
        {shown !== undefined && <PreviewTable preview={shown} caption={caption} />}
      </section>
    </>
  )
}

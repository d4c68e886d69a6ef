import { useState } from "react"
import { ReportCatalogue } from "../../../src/domain/Reports.ts"
import { PageHeading } from "../app/PageHeading.tsx"
import { ExportButton } from "../exports/ExportButton.tsx"
import { defaultsOf } from "./ParamFields.ts"
import type { Draft } from "./ReportDraft.ts"
import { checkDraft } from "./ReportDraft.ts"
import { ReportForm } from "./ReportForm.tsx"
import { localTimeZone } from "./TimeZones.ts"

const isoDay = (date: Date): string => date.toISOString().slice(0, 10)

/** Last calendar month: a range every report accepts. */
const lastMonth = (): { readonly dateFrom: string; readonly dateTo: string } => {
  const now = new Date()
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1))
  const last = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 0))
  return { dateFrom: isoDay(first), dateTo: isoDay(last) }
}

const initialDraft = (): Draft => {
  const range = lastMonth()
  // Every report's defaults (granularity "day", limit 100), so that switching report shows its own.
  const defaults = ReportCatalogue.definitions.reduce<Readonly<Record<string, string>>>(
    (merged, report) => ({ ...merged, ...defaultsOf(report, range) }),
    {}
  )
  return { reportType: ReportCatalogue.definitions[0].reportType, values: { ...defaults, timezone: localTimeZone() } }
}

/** Reports: pick a report and its parameters, export it to CSV. */
export const ReportsPage = () => {
  const [draft, setDraft] = useState(initialDraft)
  const checked = checkDraft(draft)

  return (
    <>
      <PageHeading>Reports</PageHeading>
      <ReportForm draft={draft} issues={checked._tag === "Invalid" ? checked.issues : []} onChange={setDraft} />
      <ExportButton body={checked._tag === "Valid" ? checked.body : undefined} />
    </>
  )
}

import { useId } from "react"
import { EXPORT_FORMATS, FILE_FORMATS } from "../../../src/domain/FileFormats.ts"
import type { ExportFormat } from "../../../src/domain/FileFormats.ts"
import { ReportCatalogue } from "../../../src/domain/Reports.ts"
import { maxRangeDays, paramFieldsOf } from "./ParamFields.ts"
import type { ParamField } from "./ParamFields.ts"
import type { Draft, FieldIssue } from "./ReportDraft.ts"
import { reportOf } from "./ReportDraft.ts"
import { TIME_ZONES } from "./TimeZones.ts"

/** The product's words for the catalogue's parameter names; a parameter not named here shows its own name. */
const LABELS: Readonly<Record<string, string>> = {
  dateFrom: "From",
  dateTo: "To",
  timezone: "Time zone",
  granularity: "Granularity",
  status: "Status",
  limit: "Limit"
}

const labelOf = (name: string): string => LABELS[name] ?? name

/** A rule's message in the form's words: "must not be before dateFrom" reads "must not be before From". */
const inFormWords = (message: string): string =>
  message.replace(/\b[a-z]+[A-Z]\w*\b|\btimezone\b/g, (name) => LABELS[name] ?? name)

const capitalized = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1)

/**
 * The report picker and its parameters, with the report's own limits, and the file's format; issues shown beside
 * their fields.
 */
export const ReportForm = ({ draft, issues, onChange }: {
  readonly draft: Draft
  readonly issues: ReadonlyArray<FieldIssue>
  readonly onChange: (next: Draft) => void
}) => {
  const id = useId()
  const report = reportOf(draft.reportType)
  const fields = paramFieldsOf(report)
  const dates = fields.filter((field) => field.kind === "date")
  const others = fields.filter((field) => field.kind !== "date")
  const maxDays = maxRangeDays(report)
  const setValue = (name: string, value: string) => onChange({ ...draft, values: { ...draft.values, [name]: value } })
  const unplaced = issues.filter((issue) => !fields.some((field) => field.name === issue.field))

  const input = (field: ParamField) => {
    const inputId = `${id}-${field.name}`
    const issue = issues.find((candidate) => candidate.field === field.name)
    const value = draft.values[field.name] ?? ""
    const described = issue === undefined ? {} : { "aria-describedby": `${inputId}-issue`, "aria-invalid": true }
    const common = { id: inputId, name: field.name, required: field.required, ...described }
    return (
      <div className="field" key={field.name}>
        <label htmlFor={inputId}>{labelOf(field.name)}</label>
        {field.kind === "date" && (
          <input
            {...common}
            type="date"
            value={value}
            min={field.name === "dateTo" ? draft.values["dateFrom"] : undefined}
            onChange={(event) => setValue(field.name, event.target.value)}
          />
        )}
        {field.kind === "time-zone" && (
          <select
            {...common}
            value={value}
            onChange={(event) => setValue(field.name, event.target.value)}
          >
            {TIME_ZONES.map((zone) => <option key={zone} value={zone}>{zone}</option>)}
          </select>
        )}
        {field.kind === "choice" && (
          <select
            {...common}
            value={value}
            onChange={(event) => setValue(field.name, event.target.value)}
          >
            {!field.required && !field.options.includes(value) && (
              <option value="">Any {labelOf(field.name).toLowerCase()}</option>
            )}
            {field.options.map((option) => <option key={option} value={option}>{capitalized(option)}</option>)}
          </select>
        )}
        {field.kind === "whole-number" && (
          <input
            {...common}
            type="number"
            inputMode="numeric"
            step={1}
            min={field.min}
            max={field.max}
            value={value}
            onChange={(event) => setValue(field.name, event.target.value)}
          />
        )}
        {field.kind === "text" && (
          <input
            {...common}
            type="text"
            value={value}
            onChange={(event) => setValue(field.name, event.target.value)}
          />
        )}
        {issue !== undefined && (
          <p className="field-problem" id={`${inputId}-issue`}>
            {labelOf(field.name)} {inFormWords(issue.message)}
          </p>
        )}
      </div>
    )
  }

  return (
    <form className="report-form" onSubmit={(event) => event.preventDefault()}>
      <div className="field">
        <label htmlFor={`${id}-report`}>Report</label>
        <select
          id={`${id}-report`}
          name="report"
          value={report.reportType}
          onChange={(event) => onChange({ ...draft, reportType: event.target.value })}
        >
          {ReportCatalogue.definitions.map((definition) => (
            <option key={definition.reportType} value={definition.reportType}>{definition.title}</option>
          ))}
        </select>
      </div>
      {dates.length > 0 && (
        <fieldset aria-describedby={maxDays === undefined ? undefined : `${id}-range`}>
          <legend>Date range</legend>
          {dates.map(input)}
          {maxDays !== undefined && <p className="hint" id={`${id}-range`}>Up to {maxDays} days, both included.</p>}
        </fieldset>
      )}
      {others.map(input)}
      <div className="field">
        <label htmlFor={`${id}-format`}>File format</label>
        <select
          id={`${id}-format`}
          name="format"
          value={draft.format}
          onChange={(event) => onChange({ ...draft, format: event.target.value as ExportFormat })}
        >
          {EXPORT_FORMATS.map((format) => (
            <option key={format} value={format}>{FILE_FORMATS[format].description}</option>
          ))}
        </select>
      </div>
      {unplaced.map((issue) => <p className="field-problem" key={issue.message}>{inFormWords(issue.message)}</p>)}
    </form>
  )
}

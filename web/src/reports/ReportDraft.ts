// The report and parameters a person has filled in, checked by the report's own schema: the issues to show beside
// each field, or the export request's body and the preview's query, both typed by the API's declaration.
import { Either, Option, Schema } from "effect"
import { exportRequestBodyOf } from "../../../src/adapters/http/Api.ts"
import type { ExportFormat } from "../../../src/domain/FileFormats.ts"
import { ReportCatalogue } from "../../../src/domain/Reports.ts"
import type { ReportDefinition } from "../../../src/domain/Reports.ts"
import { decodeInput } from "../../../src/domain/Validation.ts"
import { paramFieldsOf } from "./ParamFields.ts"

export interface Draft {
  readonly reportType: string
  readonly format: ExportFormat
  /** Every parameter's text, kept across reports so that switching report keeps the dates. */
  readonly values: Readonly<Record<string, string>>
}

export interface FieldIssue {
  readonly field: string
  readonly message: string
}

const ExportRequestBody = exportRequestBodyOf(ReportCatalogue)
const decodeBody = Schema.decodeUnknownOption(ExportRequestBody)

export type ExportRequestBody = typeof ExportRequestBody.Type

export type CheckedDraft =
  | { readonly _tag: "Invalid"; readonly report: ReportDefinition; readonly issues: ReadonlyArray<FieldIssue> }
  | {
    readonly _tag: "Valid"
    readonly report: ReportDefinition
    readonly body: ExportRequestBody
    readonly query: Readonly<Record<string, string>>
  }

export const reportOf = (reportType: string): ReportDefinition =>
  ReportCatalogue.definitions.find((report) => report.reportType === reportType) ?? ReportCatalogue.definitions[0]

const WHOLE_NUMBER = /^-?\d+$/

export const checkDraft = (draft: Draft): CheckedDraft => {
  const report = reportOf(draft.reportType)
  const params: Record<string, string | number> = {}
  for (const field of paramFieldsOf(report)) {
    const text = (draft.values[field.name] ?? "").trim()
    if (text === "" && !field.required) continue
    params[field.name] = field.kind === "whole-number" && WHOLE_NUMBER.test(text) ? Number(text) : text
  }
  const checked = decodeInput(report.params)(params)
  if (Either.isLeft(checked)) {
    return {
      _tag: "Invalid",
      report,
      issues: checked.left.issues.map((issue) => ({ field: issue.field, message: issue.message }))
    }
  }
  const body = decodeBody({ reportType: report.reportType, format: draft.format, ...params })
  if (Option.isNone(body)) {
    return { _tag: "Invalid", report, issues: [{ field: "", message: "These parameters cannot be exported." }] }
  }
  const query = Object.fromEntries(Object.entries(params).map(([name, value]) => [name, String(value)]))
  return { _tag: "Valid", report, body: body.value, query }
}

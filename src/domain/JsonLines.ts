// A report's rows as JSON Lines (the `jsonl` format, ADR 50): one JSON object a row, keyed by the report's column
// names and typed by its column types, each line ended by "\n" as the format asks. Spreadsheets do not open it, so
// text is written as it is, with no formula defused.
import type { Cell, Column, ColumnType, ReportRow } from "./Reports.js"

/** A JSON number as its text: what a decimal cell must be to be written bare, every digit kept. */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/

/**
 * A number as its exact text: integers and decimals are written bare, as the database printed them, so that a reader
 * that keeps decimals exact (Python's `parse_float=Decimal`, a warehouse loading NUMERIC) gets every cent; text that
 * is no JSON number (a non-finite float) is null rather than a string a typed reader would refuse.
 */
const numberOf = (cell: Cell): string => {
  if (typeof cell === "number") return Number.isFinite(cell) ? String(cell) : "null"
  if (typeof cell === "bigint") return String(cell)
  return typeof cell === "string" && JSON_NUMBER.test(cell) ? cell : "null"
}

const valueOf = (type: ColumnType, cell: Cell): string => {
  if (cell === null) return "null"
  switch (type) {
    case "integer":
    case "decimal":
      return numberOf(cell)
    default:
      // Dates and times are text in ISO 8601's order, as in the CSV.
      return JSON.stringify(String(cell))
  }
}

/** The encoder of one report's rows: each key is written once, here, and reused for every row. */
export const jsonLineEncoder = (columns: ReadonlyArray<Column>) => {
  const keys = columns.map((column, i) => `${i === 0 ? "{" : ","}${JSON.stringify(column.name)}:`)
  const types = columns.map((column) => column.type)
  return (row: ReportRow): string => {
    let line = ""
    for (let i = 0; i < keys.length; i++) line += keys[i]! + valueOf(types[i]!, row[i] ?? null)
    return line + "}\n"
  }
}

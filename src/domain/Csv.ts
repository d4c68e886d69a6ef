// CSV as RFC 4180 writes it (comma separated, CRLF line ends, quotes doubled inside quoted cells), one row at a
// time so a file of any size streams. Text that a spreadsheet would run as a formula is defused on the way out.
import type { Cell, Column } from "./Reports.js"

/** Excel reads a UTF-8 file as UTF-8 only when it starts with this mark. */
export const UTF8_BOM = "\uFEFF"

const FORMULA_TRIGGERS = new Set(["=", "+", "-", "@", "\t", "\r"])
const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
const NEEDS_QUOTES = /[",\r\n]/

/**
 * A cell whose text starts like a formula ("=HYPERLINK(...)", "@SUM(...)", "-2+3") is prefixed with an apostrophe
 * (OWASP's advice), so spreadsheets show it as text. Plain numbers such as "-12.5" are left as they are.
 */
export const neutraliseFormula = (text: string): string =>
  text.length > 0 && FORMULA_TRIGGERS.has(text[0]!) && !PLAIN_NUMBER.test(text) ? `'${text}` : text

const quote = (text: string): string => NEEDS_QUOTES.test(text) ? `"${text.replaceAll("\"", "\"\"")}"` : text

export const encodeCell = (cell: Cell): string => {
  if (cell === null) return ""
  switch (typeof cell) {
    case "string":
      return quote(neutraliseFormula(cell))
    case "number":
      return Number.isFinite(cell) ? String(cell) : ""
    case "bigint":
      return String(cell)
    case "boolean":
      return cell ? "true" : "false"
  }
}

export const encodeRow = (cells: ReadonlyArray<Cell>): string => `${cells.map(encodeCell).join(",")}\r\n`

export const encodeHeader = (columns: ReadonlyArray<Column>): string =>
  encodeRow(columns.map((column) => column.header))

export interface CsvOptions {
  /** Start the file with a UTF-8 byte order mark, for Excel. */
  readonly bom: boolean
}

/** What a file starts with: the optional byte order mark, then the header row. */
export const csvPreamble = (columns: ReadonlyArray<Column>, options: CsvOptions): string =>
  (options.bom ? UTF8_BOM : "") + encodeHeader(columns)

export const CSV_CONTENT_TYPE = "text/csv; charset=utf-8"

// CSV as RFC 4180 writes it (comma separated, CRLF line ends, quotes doubled inside quoted cells), one row at a
// time so a file of any size streams. Text that a spreadsheet would run as a formula is defused on the way out.
import type { Cell, Column } from "./Reports.js"

/** Excel reads a UTF-8 file as UTF-8 only when it starts with this mark. */
export const UTF8_BOM = "\uFEFF"

const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
const QUOTES = /"/g

// The hot path of every export (a dozen cells a row, millions of rows): character codes rather than sets and
// regular expressions wherever one character decides.

/** "=", "+", "-", "@", tab, carriage return: what a spreadsheet may take for the start of a formula. */
const startsLikeFormula = (text: string): boolean => {
  const c = text.charCodeAt(0)
  return c === 0x3d || c === 0x2b || c === 0x2d || c === 0x40 || c === 0x09 || c === 0x0d
}

/** A double quote, a comma, a line feed or a carriage return: what makes a cell need quotes. */
const needsQuotes = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22 || c === 0x2c || c === 0x0a || c === 0x0d) return true
  }
  return false
}

/**
 * A cell whose text starts like a formula ("=HYPERLINK(...)", "@SUM(...)", "-2+3") is prefixed with an apostrophe
 * (OWASP's advice), so spreadsheets show it as text. Plain numbers such as "-12.5" are left as they are.
 */
export const neutraliseFormula = (text: string): string =>
  text.length > 0 && startsLikeFormula(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text

const quote = (text: string): string => needsQuotes(text) ? `"${text.replace(QUOTES, "\"\"")}"` : text

export const encodeCell = (cell: Cell): string => {
  switch (typeof cell) {
    case "string":
      return cell.length === 0 ? "" : quote(neutraliseFormula(cell))
    case "number":
      return Number.isFinite(cell) ? String(cell) : ""
    case "bigint":
      return String(cell)
    case "boolean":
      return cell ? "true" : "false"
    default:
      return ""
  }
}

export const encodeRow = (cells: ReadonlyArray<Cell>): string => {
  let line = ""
  for (let i = 0; i < cells.length; i++) {
    if (i > 0) line += ","
    line += encodeCell(cells[i]!)
  }
  return line + "\r\n"
}

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

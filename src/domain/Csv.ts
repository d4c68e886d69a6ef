// CSV as RFC 4180 writes it (comma separated, CRLF line ends, quotes doubled inside quoted cells), one row at a
// time so a file of any size streams. Text is always quoted, and text a spreadsheet would run as a formula is
// defused on the way out (ADR 6).
import type { Cell, Column } from "./Reports.js"

/** Excel reads a UTF-8 file as UTF-8 only when it starts with this mark. */
export const UTF8_BOM = "\uFEFF"

const QUOTES = /"/g

const TAB = 0x09
const LF = 0x0a
const CR = 0x0d
const SPACE = 0x20
const QUOTE = 0x22
const PLUS = 0x2b
const COMMA = 0x2c
const MINUS = 0x2d
const DOT = 0x2e
const SEMICOLON = 0x3b
const EQUALS = 0x3d
const AT = 0x40
const DEL = 0x7f

// The hot path of every export (a dozen cells a row, millions of rows): character codes rather than sets and
// regular expressions wherever one character decides.

/**
 * The characters that start a formula (ADR 6): "=", "+", "-", "@", their full-width forms (which Excel reads as the
 * same operators), tab and carriage return. With LOOKED_PAST, the one home of the rule: `startsLikeFormula` reads
 * them through a table made from both, and the SQL that neutralises text on a server that writes the export's CSV
 * itself is generated from them (src/adapters/clickhouse/NeutralisedCsv.ts).
 */
export const FORMULA_TRIGGERS: ReadonlyArray<number> = [
  EQUALS,
  PLUS,
  MINUS,
  AT,
  TAB,
  CR,
  0xff1d,
  0xff0b,
  0xff0d,
  0xff20
]

/**
 * The characters looked past before a trigger, as ranges of code points, both ends included: a spreadsheet or the
 * person reading the cell may look past them to the "=" behind, since they show nothing. The C0 controls and space,
 * DEL and the C1 controls up to no-break space, soft hyphen, and Unicode's spaces, zero-width and direction marks.
 * Tab and carriage return are in the first range but are triggers: a trigger is never looked past.
 */
export const LOOKED_PAST: ReadonlyArray<readonly [number, number]> = [
  [0x00, SPACE],
  [DEL, 0xa0],
  [0xad, 0xad],
  [0x1680, 0x1680],
  [0x180e, 0x180e],
  [0x2000, 0x200f],
  [0x2028, 0x202f],
  [0x205f, 0x206f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff]
]

/**
 * A plain number ("-12.5", "+3e5", ".5", "1."): what a spreadsheet reads as a number, never a formula. The same
 * source is the RE2 pattern of the SQL neutralisation.
 */
export const PLAIN_NUMBER_PATTERN = "^[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?$"
const PLAIN_NUMBER = new RegExp(PLAIN_NUMBER_PATTERN)

/** What a leading character makes of a cell: looked past, the start of a formula, or the start of plain text. */
const SKIPPED = 0
const TRIGGER = 1
const TEXT = 2

/** Every UTF-16 code unit's kind (64 KiB), made once from the two lists above. */
const KINDS = (() => {
  const kinds = new Uint8Array(0x10000).fill(TEXT)
  for (const [from, to] of LOOKED_PAST) kinds.fill(SKIPPED, from, to + 1)
  for (const c of FORMULA_TRIGGERS) kinds[c] = TRIGGER
  return kinds
})()

/** Whether a cell whose first character is `c` is plain text by the rule: `c` is neither looked past nor a trigger. */
export const startsPlainText = (c: number): boolean => KINDS[c] === TEXT

/** The code unit at `i`: a string's UTF-16 unit or a byte of UTF-8, the same number for every ASCII character. */
const unitAt = (text: string | Uint8Array, i: number): number =>
  typeof text === "string" ? text.charCodeAt(i) : text[i]!

// `ignoreBOM` keeps a leading U+FEFF as text, as the string form has it: "\uFEFF-1" is no plain number.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true })

/** [from, to) is a plain number: only asked of text that starts with "+" or "-", so seldom. */
const isPlainNumber = (text: string | Uint8Array, from: number, to: number): boolean =>
  PLAIN_NUMBER.test(typeof text === "string" ? text.slice(from, to) : decoder.decode(text.subarray(from, to)))

/**
 * Whether text would start a formula in a spreadsheet, so that it needs an apostrophe in front (ADR 6): after any
 * characters that show nothing, its first character is a trigger, and the whole text is not a plain number such as
 * "-12.5". The text is a string, or the UTF-8 bytes [from, to) of one (the CSV reader's cells, ADR 17): one rule
 * for both, so that the two writers of the export's CSV cannot drift apart.
 */
export const startsLikeFormula = (text: string | Uint8Array, from = 0, to = text.length): boolean => {
  // Most cells start with a letter or a digit: one look decides.
  const first = unitAt(text, from)
  if (first >= DOT && first <= 0x7e && first !== EQUALS && first !== AT) return false
  let i = from
  while (i < to) {
    let c = unitAt(text, i++)
    if (c >= 0x80 && typeof text !== "string") {
      // A UTF-8 sequence: what is looked for is all in the Basic Multilingual Plane (two or three bytes).
      if (c < 0xe0) c = ((c & 0x1f) << 6) | (text[i++]! & 0x3f)
      else if (c < 0xf0) c = ((c & 0x0f) << 12) | ((text[i++]! & 0x3f) << 6) | (text[i++]! & 0x3f)
      else return false
    }
    const kind = KINDS[c]!
    if (kind === TEXT) return false
    if (kind === TRIGGER) return (c !== PLUS && c !== MINUS) || !isPlainNumber(text, from, to)
  }
  return false
}

/**
 * Text that starts like a formula ("=HYPERLINK(...)", "@SUM(...)", " =1+1", "-2+3") is prefixed with an apostrophe
 * (OWASP's advice), so spreadsheets show it as text. Plain numbers such as "-12.5" are left as they are.
 */
export const neutraliseFormula = (text: string): string => startsLikeFormula(text) ? `'${text}` : text

/**
 * Every text cell is quoted, even when RFC 4180 would not need it: Excel in a locale whose list separator is ";"
 * splits a line at every ";" outside quotes, and text such as `a;=1+1` would give a new cell starting with "=",
 * behind the apostrophe. Quotes hold whatever the separator, so no text can be split.
 */
const quoteText = (text: string): string => {
  const escaped = text.indexOf("\"") === -1 ? text : text.replace(QUOTES, "\"\"")
  return startsLikeFormula(text) ? `"'${escaped}"` : `"${escaped}"`
}

export const encodeCell = (cell: Cell): string => {
  switch (typeof cell) {
    case "string":
      return quoteText(cell)
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

const NO_CELLS: ReadonlySet<number> = new Set()

/**
 * The export's CSV for Excel in a locale whose list separator is ";" (the `csv-excel` format, ADR 50), where ","
 * starts a number's decimals and "12.50" would be read as a date. Outside quoted text the only "," are the ones
 * between cells and the only "." are numbers' (text, dates and times are always quoted), so each "," becomes ";"
 * and each "." becomes ","; inside the quotes of the cells at `decimalCells` (decimals travel as text, so that no
 * cent is lost), each "." becomes "," too. `bytes` holds whole rows, as every piece of an export's CSV does, so it
 * starts outside quotes at a row's first cell; a doubled quote inside text leaves and enters the quotes at once.
 * Returns a new array.
 */
export const toExcelCsv = (bytes: Uint8Array, decimalCells: ReadonlySet<number> = NO_CELLS): Uint8Array => {
  const excel = new Uint8Array(bytes)
  let quoted = false
  let cell = 0
  let decimal = decimalCells.has(0)
  for (let i = 0; i < excel.length; i++) {
    const c = excel[i]!
    if (c === QUOTE) quoted = !quoted
    else if (quoted) {
      if (c === DOT && decimal) excel[i] = COMMA
    } else if (c === COMMA) {
      excel[i] = SEMICOLON
      decimal = decimalCells.has(++cell)
    } else if (c === DOT) excel[i] = COMMA
    else if (c === LF) decimal = decimalCells.has(cell = 0)
  }
  return excel
}

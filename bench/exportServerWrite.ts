// The export written by the engine itself (ADR 43): `INSERT INTO FUNCTION s3(...) SELECT ...`, so that no row passes
// through the worker. The file must be the pipeline's byte for byte: ADR 6's dialect (CRLF, text quoted, quotes
// doubled), the header row (and BOM) first, and every text cell that starts like a formula prefixed with an
// apostrophe, by the same rule as the domain's `startsLikeFormula`, here as two RE2 patterns.
import type { CsvOptions } from "../src/domain/Csv.js"
import { csvPreamble } from "../src/domain/Csv.js"
import type { Column } from "../src/domain/Reports.js"

/** Characters a spreadsheet or a reader looks past before a trigger (src/domain/Csv.ts's SKIPPED, tab and CR apart). */
const SKIPPED = "[\\x00-\\x08\\x0a-\\x0c\\x0e-\\x20\\x7f-\\x{a0}\\x{ad}\\x{1680}\\x{180e}\\x{2000}-\\x{200f}" +
  "\\x{2028}-\\x{202f}\\x{205f}-\\x{206f}\\x{3000}\\x{feff}]"
/** "=", "+", "-", "@", their full-width forms, tab and CR (src/domain/Csv.ts's TRIGGER). */
const TRIGGER = "[=+\\-@\\t\\r\\x{ff1d}\\x{ff0b}\\x{ff0d}\\x{ff20}]"
const FORMULA_START = `^${SKIPPED}*${TRIGGER}`
/** A plain number ("-12.5", "+3e5", ".5"), never a formula: `isPlainNumber` of src/domain/Csv.ts. */
const PLAIN_NUMBER = "^[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?$"

const sqlString = (text: string) => `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`

/** A text cell with ADR 6's apostrophe when it starts like a formula; in SQL, evaluated once per cell. */
const neutralised = (column: string) => {
  const text = `toString(${column})`
  return `if(match(${text}, ${sqlString(FORMULA_START)}) AND NOT match(${text}, ${sqlString(PLAIN_NUMBER)}), ` +
    `concat('''', ${text}), ${text}) AS ${column}`
}

/**
 * ADR 6's CSV as ClickHouse's CustomSeparated format writes it: each cell escaped as CSV (text quoted, quotes
 * doubled, numbers bare), rows ended by CRLF, the preamble (BOM, header row) before the first row.
 */
const dialectSettings = (columns: ReadonlyArray<Column>, options: CsvOptions) => ({
  format_custom_escaping_rule: "CSV",
  format_custom_field_delimiter: ",",
  format_custom_row_before_delimiter: "",
  format_custom_row_after_delimiter: "\r\n",
  format_custom_row_between_delimiter: "",
  format_custom_result_before_delimiter: csvPreamble(columns, options),
  format_custom_result_after_delimiter: "",
  format_csv_null_representation: ""
})

export interface ServerWrite {
  /**
   * Every part but the last of this size, as R2 requires (`s3_strict_upload_part_size`, ClickHouse 23.4+), and at
   * most `concurrency` in flight: the file store's own settings (S3_PART_SIZE, S3_UPLOAD_CONCURRENCY).
   */
  readonly partSize: number
  readonly concurrency: number
  /** The engine's S3 URL of the object, `<endpoint>/<bucket>/<key>` (path style). */
  readonly url: string
  /**
   * The credentials as SQL arguments: a named collection's name (production: created by the server's
   * administrator, its secrets hidden from `SHOW` and the logs), or, for s3rver, whose key is public, the key
   * itself.
   */
  readonly credentials: { readonly collection: string } | { readonly accessKey: string; readonly secretKey: string }
}

/**
 * `INSERT INTO FUNCTION s3(...)` of `sql` (the catalogue's report SQL, ending in its ORDER BY and SETTINGS), the
 * text columns neutralised in an outer SELECT that keeps the inner order (checked by bench:export, whose server-write
 * object must hash as the pipeline's does).
 */
export const serverWriteSql = (
  sql: string,
  columns: ReadonlyArray<Column>,
  options: CsvOptions,
  target: ServerWrite
): string => {
  const [select, settings = ""] = sql.split(/\nSETTINGS /)
  const cells = columns.map((column) => column.type === "integer" ? column.name : neutralised(column.name))
  const { credentials } = target
  const where = "collection" in credentials
    ? `${credentials.collection}, url = ${sqlString(target.url)}, format = 'CustomSeparated'`
    : `${sqlString(target.url)}, ${sqlString(credentials.accessKey)}, ${sqlString(credentials.secretKey)}, ` +
      `'CustomSeparated'`
  const allSettings = [
    ...(settings === "" ? [] : [settings.trim()]),
    ...Object.entries(dialectSettings(columns, options)).map(([name, value]) => `${name} = ${sqlString(value)}`),
    // A key already there is replaced whole, as the pipeline's PutObject or CompleteMultipartUpload replaces it.
    "s3_truncate_on_insert = 1",
    `s3_strict_upload_part_size = ${target.partSize}`,
    `s3_max_inflight_parts_for_one_file = ${target.concurrency}`
  ]
  return `INSERT INTO FUNCTION s3(${where})\nSELECT ${cells.join(", ")}\nFROM (${select}\n)\n` +
    `SETTINGS ${allSettings.join(", ")}`
}

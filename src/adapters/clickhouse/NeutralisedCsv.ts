// The export's CSV written by the server itself, where it can (ADR 53): rows ended with CRLF, NULL as an empty cell,
// and every text cell that starts like a formula given its apostrophe in SQL, by patterns generated from the domain's
// one rule (FORMULA_TRIGGERS, LOOKED_PAST, PLAIN_NUMBER_PATTERN). The CsvResultReader then checks and counts the
// rows and hands the body on as it came. Servers without the settings (18.16) get ClickHouse's CSV rewritten (ADR 17).
import type { ClickHouseSettings } from "@clickhouse/client"
import { FORMULA_TRIGGERS, LOOKED_PAST, PLAIN_NUMBER_PATTERN, startsPlainText } from "../../domain/Csv.js"
import type { ReportDefinition } from "../../domain/Reports.js"

/** What the server is asked for, beside the query's own settings: its CSV in ADR 6's row ends and NULLs. */
export const EXPORT_CSV_SETTINGS = {
  output_format_csv_crlf_end_of_line: 1,
  format_csv_null_representation: ""
} as const satisfies ClickHouseSettings

/** The settings a server must know for its CSV to be the export's: asked of `system.settings` once (ADR 53). */
export const EXPORT_CSV_SETTING_NAMES: ReadonlyArray<string> = Object.keys(EXPORT_CSV_SETTINGS)
/** The functions `neutralisedText` calls that not every server has (`ascii`, in newer servers only): asked of `system.functions`. */
export const EXPORT_CSV_FUNCTION_NAMES: ReadonlyArray<string> = ["ascii"]

type Range = readonly [number, number]

const codePoint = (c: number) => `\\x{${c.toString(16)}}`

/** An RE2 class of code point ranges, each written as `\x{...}`: nothing in it is read as syntax. */
const classOf = (ranges: ReadonlyArray<Range>) =>
  `[${ranges.map(([from, to]) => from === to ? codePoint(from) : `${codePoint(from)}-${codePoint(to)}`).join("")}]`

/**
 * Text whose first character, after any looked past, is a trigger (RE2, as ClickHouse's `match` reads it). Tab and
 * CR are in both classes; the match is still the rule's: a trigger ends the characters looked past either way.
 */
export const FORMULA_START_PATTERN = `^${classOf(LOOKED_PAST)}*${classOf(FORMULA_TRIGGERS.map((c) => [c, c]))}`

/**
 * The ASCII characters that start plain text by the rule (neither looked past nor a trigger), as ranges: text that
 * starts with one is never a formula, and most text does, so the server tries no pattern on it.
 */
const TEXT_STARTS: ReadonlyArray<Range> = Array.from({ length: 0x80 }, (_, c) => c).reduce<Array<[number, number]>>(
  (ranges, c) => {
    if (!startsPlainText(c)) return ranges
    const last = ranges.at(-1)
    if (last !== undefined && last[1] === c - 1) last[1] = c
    else ranges.push([c, c])
    return ranges
  },
  []
)

/** A ClickHouse string literal: backslashes and quotes escaped. */
export const sqlString = (text: string) => `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`

/**
 * `startsLikeFormula` in SQL: text that starts like a formula and is not a plain number gets an apostrophe in front.
 * As the domain's function does, the first byte decides for most text (`ascii`: its code, 0 for empty text); `if`
 * evaluates the patterns only where it does not. `toString` makes every non-integer column text, as ADR 6 quotes it
 * (dates and decimals are printed as text already, and ClickHouse quotes them in CSV as it quotes strings).
 */
export const neutralisedText = (expression: string) => {
  const text = `toString(${expression})`
  const first = `ascii(${text})`
  const plainStart = TEXT_STARTS.map(([from, to]) =>
    from === to ? `${first} = ${from}` : `${first} BETWEEN ${from} AND ${to}`
  ).join(" OR ")
  return `if(${plainStart}, ${text}, if(match(${text}, ${sqlString(FORMULA_START_PATTERN)}) AND NOT match(${text}, ` +
    `${sqlString(PLAIN_NUMBER_PATTERN)}), concat('''', ${text}), ${text}))`
}

/**
 * A report's SQL with its text columns neutralised: the report's own query, merchant filter and order included, as
 * a subquery (as `parquetSql` does). The outer query only projects, so ClickHouse keeps the rows in its order; the
 * contract suite checks the CSV against the rows, order included.
 */
export const neutralisedCsvSql = (definition: ReportDefinition): string => {
  const cells = definition.columns.map((column) =>
    column.type === "integer" ? column.name : `${neutralisedText(column.name)} AS ${column.name}`
  )
  return `SELECT ${cells.join(", ")}\nFROM (${definition.sql}\n)`
}

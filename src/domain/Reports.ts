// The report catalogue: which reports can be exported. A report is one definition (`defineReport`): its parameters
// with their limits, the columns of its file, its ClickHouse SQL and the values that SQL is run with. What else
// names reports (the request, command and message schemas, the HTTP body and its documentation) is derived from the
// catalogue (`catalogueOf`, ADR 24). SQL takes server-side parameters only ({name:Type}); the caller's merchant is
// always one of them, so no report can read another tenant's rows.
import { Option, Schema, SchemaAST } from "effect"
import type { ExportFormat } from "./FileFormats.js"
import { FILE_FORMATS } from "./FileFormats.js"
import type { MerchantId } from "./Identifiers.js"
import { RuleAnnotationId } from "./Validation.js"

const DAY_MS = 86_400_000
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/

const isCalendarDate = (value: string): boolean => {
  const match = ISO_DATE.exec(value)
  if (match === null) return false
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

const toIsoDate = (date: Date): string => date.toISOString().slice(0, 10)

/** Days since 1970-01-01 of a validated calendar date. */
export const epochDay = (date: CalendarDate): number => Date.parse(`${date}T00:00:00Z`) / DAY_MS

/** A day in the calendar, as written in ISO 8601 ("2024-02-29"). Years 2000 to 2099 cover any sales history. */
export const CalendarDate = Schema.String.pipe(
  Schema.filter((value) => isCalendarDate(value) && value >= "2000-01-01" && value <= "2099-12-31", {
    identifier: "calendar-date",
    message: () => "must be a calendar date in YYYY-MM-DD form between 2000-01-01 and 2099-12-31",
    arbitrary: () => (fc) =>
      fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2099-12-31T00:00:00Z"), noInvalidDate: true })
        .map(toIsoDate)
  }),
  Schema.brand("CalendarDate", { identifier: "calendar-date" })
)
export type CalendarDate = typeof CalendarDate.Type

// Whether a zone exists is what ICU says. Its list of zones answers for the names it holds in ~2 ms; the first
// Intl.DateTimeFormat built for a zone costs ~13 ms (ICU's zone data), which every cold start of the API paid on its
// first request. The list holds neither "UTC" (which ECMA-402 requires every implementation to accept) nor aliases
// ("Asia/Kolkata") nor other letter cases, so any other name is still asked of a DateTimeFormat: the answer is the
// same, only sooner. Those answers are remembered (a bounded number of them): every request names a zone.
let listedZones: ReadonlySet<string> | undefined
const knownZones = new Map<string, boolean>()

const isTimeZone = (value: string): boolean => {
  if (value.length > 64) return false
  listedZones ??= new Set([...Intl.supportedValuesOf("timeZone"), "UTC"])
  if (listedZones.has(value)) return true
  const known = knownZones.get(value)
  if (known !== undefined) return known
  let valid: boolean
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value })
    valid = true
  } catch {
    valid = false
  }
  if (knownZones.size < 2_000) knownZones.set(value, valid)
  return valid
}

const SAMPLE_TIME_ZONES = [
  "UTC",
  "Europe/Paris",
  "America/New_York",
  "Asia/Kolkata",
  "Australia/Adelaide",
  "Pacific/Kiritimati"
]

/** An IANA time zone ("Europe/Paris"): report days start at midnight there. */
export const TimeZone = Schema.String.pipe(
  Schema.filter(isTimeZone, {
    identifier: "iana-time-zone",
    message: () => "must be an IANA time zone such as \"Europe/Paris\" or \"UTC\"",
    arbitrary: () => (fc) => fc.constantFrom(...SAMPLE_TIME_ZONES)
  }),
  Schema.brand("TimeZone", { identifier: "iana-time-zone" })
)
export type TimeZone = typeof TimeZone.Type

const dateRangeFields = {
  dateFrom: CalendarDate,
  dateTo: CalendarDate,
  timezone: Schema.optionalWith(TimeZone, { default: () => TimeZone.make("UTC") })
}

interface DateRange {
  readonly dateFrom: CalendarDate
  readonly dateTo: CalendarDate
}

/** Both ends of a range are included, so a range of one day has dateFrom equal to dateTo. */
export const rangeDays = (range: DateRange): number => epochDay(range.dateTo) - epochDay(range.dateFrom) + 1

/** The most days a report's range may span, on its parameters' schema: the API's documentation states it. */
export const MaxRangeDaysAnnotationId: unique symbol = Symbol.for("async-data-export/Reports/MaxRangeDays")

/**
 * The range rules: ordered, and no longer than `maxDays`. The arbitrary builds valid ranges directly,
 * since filtering random pairs would reject most of them.
 */
const boundedRange = (maxDays: number) => <S extends Schema.Schema.Any>(self: S) => {
  // `rangeParams` puts the range's fields in every schema given here; the compiler cannot see it for any fields.
  const rangeOf = (params: Schema.Schema.Type<S>) => params as DateRange
  return self.pipe(
    Schema.filter(
      (params) =>
        rangeOf(params).dateFrom <= rangeOf(params).dateTo ||
        { path: ["dateTo"], message: "must not be before dateFrom" },
      { identifier: "date-order" }
    ),
    Schema.filter<Schema.filter<S>>(
      (params) =>
        rangeDays(rangeOf(params)) <= maxDays ||
        { path: ["dateTo"], message: `must be at most ${maxDays} days after dateFrom, both included` },
      {
        identifier: "max-range",
        [MaxRangeDaysAnnotationId]: maxDays,
        arbitrary: (ordered) => (fc) =>
          fc.tuple(ordered(fc), fc.integer({ min: 0, max: maxDays - 1 })).map(([params, extraDays]) => {
            const end = Math.min(
              epochDay(rangeOf(params).dateFrom) + extraDays,
              epochDay(CalendarDate.make("2099-12-31"))
            )
            return { ...params, dateTo: CalendarDate.make(toIsoDate(new Date(end * DAY_MS))) }
          })
      }
    )
  )
}

/**
 * A report's parameters: the range of days every report covers (`dateFrom` to `dateTo`, both included, in
 * `timezone`, UTC unless given), at most `maxDays` long, and the report's own `fields`.
 */
export const rangeParams = <Fields extends Schema.Struct.Fields>(maxDays: number, fields: Fields) =>
  Schema.Struct({ ...dateRangeFields, ...fields }).pipe(boundedRange(maxDays))

const maxRangeDaysIn = (ast: SchemaAST.AST): number | undefined =>
  Option.getOrElse(
    SchemaAST.getAnnotation<number>(MaxRangeDaysAnnotationId)(ast),
    () => ast._tag === "Refinement" ? maxRangeDaysIn(ast.from) : undefined
  )

/** The most days a report's range may span, as its parameters' schema declares it (`rangeParams`). */
export const maxRangeDaysOf = (params: Schema.Schema.Any): number | undefined => maxRangeDaysIn(params.ast)

/**
 * A whole number from `min` to `max`, both included. The bounds are JSON Schema's own (minimum, maximum), so the
 * OpenAPI document states them; a client sending another number is told `rule`.
 */
export const wholeNumber = (min: number, max: number, rule: string) =>
  Schema.Int.pipe(
    Schema.between(min, max),
    Schema.annotations({ [RuleAnnotationId]: { rule, message: `must be a whole number from ${min} to ${max}` } })
  )

export const Granularity = Schema.Literal("day", "week", "month")
export type Granularity = typeof Granularity.Type

export const SalesTrendParams = rangeParams(3 * 366, {
  granularity: Schema.optionalWith(Granularity, { default: () => "day" as const })
})
export type SalesTrendParams = typeof SalesTrendParams.Type

export const OrderStatus = Schema.Literal("placed", "paid", "shipped", "delivered", "refunded", "cancelled")
export type OrderStatus = typeof OrderStatus.Type

export const OrdersParams = rangeParams(366, { status: Schema.optional(OrderStatus) })
export type OrdersParams = typeof OrdersParams.Type

export const TopProductsParams = rangeParams(3 * 366, {
  limit: Schema.optionalWith(wholeNumber(1, 1000, "limit-range"), { default: () => 100 })
})
export type TopProductsParams = typeof TopProductsParams.Type

export type ColumnType = "string" | "integer" | "decimal" | "date" | "datetime"

export interface Column {
  readonly name: string
  readonly type: ColumnType
  readonly header: string
}

/** A cell as a report source yields it. Decimals travel as strings so no cent is lost to floating point. */
export type Cell = string | number | bigint | boolean | null
export type ReportRow = ReadonlyArray<Cell>

export type QueryParameters = Readonly<Record<string, string | number>>

/** A report's own values for its SQL: the caller's merchant is the catalogue's to add, never a report's. */
export type ReportParameters = QueryParameters & { readonly merchantId?: never }

/** One report: everything there is to write to add one (ADR 24). */
export interface ReportDefinition<
  T extends string = string,
  P extends Schema.Schema.AnyNoContext = Schema.Schema.AnyNoContext
> {
  readonly reportType: T
  /** The report's name in the user's notifications. */
  readonly title: string
  /** The report's parameters and their limits; a client sends them beside reportType and format. */
  readonly params: P
  readonly columns: ReadonlyArray<Column>
  /** ClickHouse SQL with server-side parameters only ({name:Type}), always filtered by the caller's merchant. */
  readonly sql: string
  /** The values of the SQL's parameters, from the validated parameters; the merchant is added to them. */
  readonly queryParameters: (params: Schema.Schema.Type<P>) => ReportParameters
}

const MERCHANT_SCOPE = "merchant_id = {merchantId:String}"

/** A report definition; one whose SQL does not filter by the caller's merchant is refused where it is written. */
export const defineReport = <const T extends string, P extends Schema.Schema.AnyNoContext>(
  definition: ReportDefinition<T, P>
): ReportDefinition<T, P> => {
  if (!definition.sql.includes(MERCHANT_SCOPE)) {
    throw new Error(`the SQL of report "${definition.reportType}" does not filter by ${MERCHANT_SCOPE}`)
  }
  return definition
}

/**
 * The analytics table every report reads. The primary key starts with the merchant, so a merchant's rows are
 * contiguous and the tenant filter is also the fastest one.
 */
export const ORDER_LINES_TABLE = "order_lines"

// Rows are selected by the local calendar date in the report's time zone. The first two predicates are a
// widened UTC window (any offset is under a day) that lets ClickHouse use the primary key; the last is exact.
const WITHIN_RANGE = `
  ${MERCHANT_SCOPE}
  AND ordered_at >= toDateTime64({dateFrom:Date}, 3, 'UTC') - INTERVAL 1 DAY
  AND ordered_at < toDateTime64({dateTo:Date}, 3, 'UTC') + INTERVAL 2 DAY
  AND toDate(ordered_at, {timezone:String}) BETWEEN {dateFrom:Date} AND {dateTo:Date}`

const rangeParameters = (params: DateRange & { readonly timezone: TimeZone }) => ({
  dateFrom: params.dateFrom,
  dateTo: params.dateTo,
  timezone: params.timezone
})

export const SalesTrend = defineReport({
  reportType: "sales-trend",
  title: "Sales trend",
  params: SalesTrendParams,
  columns: [
    { name: "period_start", type: "date", header: "Period start" },
    { name: "revenue", type: "decimal", header: "Revenue" },
    { name: "orders", type: "integer", header: "Orders" },
    { name: "units", type: "integer", header: "Units" }
  ],
  sql: `
SELECT
  multiIf({granularity:String} = 'month', toStartOfMonth(local_day),
          {granularity:String} = 'week', toMonday(local_day),
          local_day) AS period_start,
  toString(sum(line_total)) AS revenue,
  uniqExact(order_id) AS orders,
  sum(quantity) AS units
FROM (
  SELECT toDate(ordered_at, {timezone:String}) AS local_day, order_id, quantity, line_total
  FROM ${ORDER_LINES_TABLE}
  WHERE ${WITHIN_RANGE} AND status != 'cancelled'
)
GROUP BY period_start
ORDER BY period_start`,
  queryParameters: (params) => ({ ...rangeParameters(params), granularity: params.granularity })
})

export const Orders = defineReport({
  reportType: "orders",
  title: "Orders",
  params: OrdersParams,
  columns: [
    { name: "order_id", type: "string", header: "Order ID" },
    { name: "line_number", type: "integer", header: "Line" },
    { name: "ordered_at_local", type: "datetime", header: "Ordered at (local time)" },
    { name: "status", type: "string", header: "Status" },
    { name: "customer_id", type: "string", header: "Customer ID" },
    { name: "product_id", type: "string", header: "Product ID" },
    { name: "sku", type: "string", header: "SKU" },
    { name: "product_name", type: "string", header: "Product" },
    { name: "quantity", type: "integer", header: "Quantity" },
    { name: "unit_price", type: "decimal", header: "Unit price" },
    { name: "line_total", type: "decimal", header: "Line total" },
    { name: "currency", type: "string", header: "Currency" }
  ],
  sql: `
SELECT
  order_id, line_number,
  formatDateTime(ordered_at, '%Y-%m-%d %H:%i:%S', {timezone:String}) AS ordered_at_local,
  status, customer_id, product_id, sku, product_name, quantity,
  toString(unit_price) AS unit_price, toString(line_total) AS line_total, currency
FROM ${ORDER_LINES_TABLE}
WHERE ${WITHIN_RANGE} AND ({status:String} = '' OR status = {status:String})
ORDER BY ordered_at, order_id, line_number`,
  queryParameters: (params) => ({ ...rangeParameters(params), status: params.status ?? "" })
})

export const TopProducts = defineReport({
  reportType: "top-products",
  title: "Top products",
  params: TopProductsParams,
  columns: [
    { name: "product_id", type: "string", header: "Product ID" },
    { name: "sku", type: "string", header: "SKU" },
    { name: "product_name", type: "string", header: "Product" },
    { name: "units", type: "integer", header: "Units" },
    { name: "revenue", type: "decimal", header: "Revenue" },
    { name: "orders", type: "integer", header: "Orders" }
  ],
  sql: `
SELECT product_id, any(sku) AS sku, any(product_name) AS product_name,
  sum(quantity) AS units, toString(sum(line_total)) AS revenue, uniqExact(order_id) AS orders
FROM ${ORDER_LINES_TABLE}
WHERE ${WITHIN_RANGE} AND status != 'cancelled'
GROUP BY product_id
ORDER BY sum(line_total) DESC, product_id
LIMIT {limit:UInt32}`,
  queryParameters: (params) => ({ ...rangeParameters(params), limit: params.limit })
})

/** The places every decimal column keeps: the catalogue's decimals are money (`Decimal(18, 2)` in the table). */
const DECIMAL_SCALE = 2

/**
 * Each column's type in a Parquet file (ADR 50), as a ClickHouse cast of the report's own column. Integers are
 * signed 64-bit, which every reader takes; decimals are Parquet decimals, room enough for any sum of money; local
 * times stay text, since a wall-clock time in the report's zone is no instant and Parquet's local timestamps are not
 * what every server writes or every reader reads alike.
 */
const PARQUET_CASTS: { readonly [T in ColumnType]: (column: string) => string } = {
  string: (column) => `CAST(${column} AS String)`,
  integer: (column) => `CAST(${column} AS Int64)`,
  decimal: (column) => `toDecimal128(${column}, ${DECIMAL_SCALE})`,
  date: (column) => `CAST(${column} AS Date)`,
  datetime: (column) => `CAST(${column} AS String)`
}

/**
 * A report's SQL with each column cast to its type in a Parquet file (`PARQUET_CASTS`): the report's own query,
 * merchant filter and order included, as a subquery. The outer query only projects, so ClickHouse keeps the rows in
 * the subquery's order.
 */
export const parquetSql = (definition: ReportDefinition): string => {
  const columns = definition.columns.map((column) => `${PARQUET_CASTS[column.type](column.name)} AS ${column.name}`)
  return `SELECT ${columns.join(", ")}\nFROM (${definition.sql}\n)`
}

type AnyReportDefinition = ReportDefinition
/** A catalogue's definitions: at least one. */
export type ReportDefinitions = readonly [AnyReportDefinition, ...Array<AnyReportDefinition>]

/** One request schema per report, in the catalogue's order: `_tag` names the report, `params` are its own. */
type RequestMembers<Ds extends ReportDefinitions> = {
  readonly [K in keyof Ds]: Ds[K] extends AnyReportDefinition ?
    Schema.TaggedStruct<Ds[K]["reportType"], { params: Ds[K]["params"] }>
    : never
}

type ReportTypes<Ds extends ReportDefinitions> = { readonly [K in keyof Ds]: Ds[K]["reportType"] }

/** The reports of a catalogue, and what is derived from them alone. */
export interface Catalogue<Ds extends ReportDefinitions = ReportDefinitions> {
  readonly definitions: Ds
  /** A report and its validated parameters, `_tag` naming the report: what a job records and a message carries. */
  readonly ReportRequest: Schema.Union<RequestMembers<Ds>>
  readonly ReportType: Schema.Literal<ReportTypes<Ds>>
  readonly definitionOf: (request: { readonly _tag: Ds[number]["reportType"] }) => ReportDefinition
  /** The values a report's SQL is run with: the report's own, and the caller's merchant, which none can replace. */
  readonly queryParametersOf: (
    merchantId: MerchantId,
    request: Schema.Schema.Type<Schema.Union<RequestMembers<Ds>>>
  ) => QueryParameters
}

/** A catalogue of `definitions`, in that order; built once, where it is declared. */
export const catalogueOf = <const Ds extends ReportDefinitions>(...definitions: Ds): Catalogue<Ds> => {
  const byType = new Map<string, AnyReportDefinition>(
    definitions.map((definition) => [definition.reportType, definition])
  )
  if (byType.size !== definitions.length) throw new Error("two reports of a catalogue have the same reportType")
  const definitionOf = (request: { readonly _tag: string }): ReportDefinition => {
    const definition = byType.get(request._tag)
    if (definition === undefined) throw new Error(`no report "${request._tag}" in this catalogue`)
    return definition
  }
  const [first, ...others] = definitions
  const catalogue = {
    definitions,
    ReportRequest: Schema.Union(
      ...definitions.map((definition) => Schema.TaggedStruct(definition.reportType, { params: definition.params }))
    ),
    ReportType: Schema.Literal(first.reportType, ...others.map((definition) => definition.reportType)),
    definitionOf,
    queryParametersOf: (merchantId: MerchantId, request: { readonly _tag: string; readonly params: unknown }) => ({
      ...definitionOf(request).queryParameters(request.params),
      merchantId
    })
  }
  // Each member is built from the definition at its place, which is what `Catalogue<Ds>` says: the compiler cannot
  // follow a map over a tuple.
  return catalogue as unknown as Catalogue<Ds>
}

export const ReportCatalogue = catalogueOf(SalesTrend, Orders, TopProducts)

/** A report and its validated parameters. `_tag` is the report type. */
export const ReportRequest = ReportCatalogue.ReportRequest
export type ReportRequest = typeof ReportRequest.Type
export type ReportType = ReportRequest["_tag"]
export const ReportType = ReportCatalogue.ReportType

export const definitionOf = ReportCatalogue.definitionOf

/** The parameters a report's SQL is run with: the report's own, and the caller's merchant. */
export const queryParametersOf = ReportCatalogue.queryParametersOf

/** A readable file name: "orders_2024-01-01_2024-03-31.csv". */
export const downloadFileName = (request: ReportRequest, format: ExportFormat): string =>
  `${request._tag}_${request.params.dateFrom}_${request.params.dateTo}.${FILE_FORMATS[format].extension}`

// The report catalogue: which reports can be exported, the parameters each accepts (with their limits),
// the columns of its file and the ClickHouse SQL that produces it. SQL takes server-side parameters only
// ({name:Type}); the caller's merchant is always one of them, so no report can read another tenant's rows.
import { Arbitrary, Schema } from "effect"
import type { MerchantId } from "./Identifiers.js"

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

// Building an Intl.DateTimeFormat is the only way to ask whether a zone exists, and it is costly: every request
// names a zone, and there are a few hundred of them, so answers are remembered (a bounded number of them).
const knownZones = new Map<string, boolean>()

const isTimeZone = (value: string): boolean => {
  const known = knownZones.get(value)
  if (known !== undefined) return known
  let valid: boolean
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value })
    valid = value.length <= 64
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

/**
 * The range rules: ordered, and no longer than `maxDays`. The arbitrary builds valid ranges directly,
 * since filtering random pairs would reject most of them.
 */
const boundedRange = (maxDays: number) => <A extends DateRange, I>(self: Schema.Schema<A, I, never>) =>
  self.pipe(
    Schema.filter<Schema.Schema<A, I, never>>(
      (range) => range.dateFrom <= range.dateTo || { path: ["dateTo"], message: "must not be before dateFrom" },
      { identifier: "date-order" }
    ),
    Schema.filter<Schema.Schema<A, I, never>>(
      (range) =>
        rangeDays(range) <= maxDays ||
        { path: ["dateTo"], message: `must be at most ${maxDays} days after dateFrom, both included` },
      {
        identifier: "max-range",
        arbitrary: () => (fc) =>
          fc.tuple(Arbitrary.make(self), fc.integer({ min: 0, max: maxDays - 1 })).map(([range, extraDays]) => {
            const end = Math.min(epochDay(range.dateFrom) + extraDays, epochDay(CalendarDate.make("2099-12-31")))
            return { ...range, dateTo: CalendarDate.make(toIsoDate(new Date(end * DAY_MS))) }
          })
      }
    )
  )

export const Granularity = Schema.Literal("day", "week", "month")
export type Granularity = typeof Granularity.Type

const SalesTrendParamsFields = {
  ...dateRangeFields,
  granularity: Schema.optionalWith(Granularity, { default: () => "day" as const })
}
export const SalesTrendParams = Schema.Struct(SalesTrendParamsFields).pipe(boundedRange(3 * 366))
export type SalesTrendParams = typeof SalesTrendParams.Type

export const OrderStatus = Schema.Literal("placed", "paid", "shipped", "delivered", "refunded", "cancelled")
export type OrderStatus = typeof OrderStatus.Type

const OrdersParamsFields = {
  ...dateRangeFields,
  status: Schema.optional(OrderStatus)
}
export const OrdersParams = Schema.Struct(OrdersParamsFields).pipe(boundedRange(366))
export type OrdersParams = typeof OrdersParams.Type

const TopProductsParamsFields = {
  ...dateRangeFields,
  limit: Schema.optionalWith(
    Schema.Number.pipe(
      Schema.filter((n) => Number.isInteger(n) && n >= 1 && n <= 1000, {
        identifier: "limit-range",
        message: () => "must be a whole number from 1 to 1000",
        arbitrary: () => (fc) => fc.integer({ min: 1, max: 1000 })
      })
    ),
    { default: () => 100 }
  )
}
export const TopProductsParams = Schema.Struct(TopProductsParamsFields).pipe(boundedRange(3 * 366))
export type TopProductsParams = typeof TopProductsParams.Type

export const SalesTrendRequest = Schema.TaggedStruct("sales-trend", { params: SalesTrendParams })
export const OrdersRequest = Schema.TaggedStruct("orders", { params: OrdersParams })
export const TopProductsRequest = Schema.TaggedStruct("top-products", { params: TopProductsParams })

/** A report and its validated parameters. `_tag` is the report type. */
export const ReportRequest = Schema.Union(SalesTrendRequest, OrdersRequest, TopProductsRequest)
export type ReportRequest = typeof ReportRequest.Type
export type ReportType = ReportRequest["_tag"]
export const ReportType = Schema.Literal("sales-trend", "orders", "top-products")

export const ExportFormat = Schema.Literal("csv")
export type ExportFormat = typeof ExportFormat.Type

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

export interface ReportDefinition<R extends ReportRequest = ReportRequest> {
  readonly reportType: R["_tag"]
  readonly title: string
  readonly columns: ReadonlyArray<Column>
  readonly sql: string
  readonly queryParameters: (merchantId: MerchantId, params: R["params"]) => QueryParameters
}

/**
 * The analytics table every report reads. The primary key starts with the merchant, so a merchant's rows are
 * contiguous and the tenant filter is also the fastest one.
 */
export const ORDER_LINES_TABLE = "order_lines"

// Rows are selected by the local calendar date in the report's time zone. The first two predicates are a
// widened UTC window (any offset is under a day) that lets ClickHouse use the primary key; the last is exact.
const WITHIN_RANGE = `
  merchant_id = {merchantId:String}
  AND ordered_at >= toDateTime64({dateFrom:Date}, 3, 'UTC') - INTERVAL 1 DAY
  AND ordered_at < toDateTime64({dateTo:Date}, 3, 'UTC') + INTERVAL 2 DAY
  AND toDate(ordered_at, {timezone:String}) BETWEEN {dateFrom:Date} AND {dateTo:Date}`

const rangeParameters = (merchantId: MerchantId, params: DateRange & { readonly timezone: TimeZone }) => ({
  merchantId,
  dateFrom: params.dateFrom,
  dateTo: params.dateTo,
  timezone: params.timezone
})

export const SalesTrend: ReportDefinition<typeof SalesTrendRequest.Type> = {
  reportType: "sales-trend",
  title: "Sales trend",
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
  queryParameters: (merchantId, params) => ({ ...rangeParameters(merchantId, params), granularity: params.granularity })
}

export const Orders: ReportDefinition<typeof OrdersRequest.Type> = {
  reportType: "orders",
  title: "Orders",
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
  queryParameters: (merchantId, params) => ({ ...rangeParameters(merchantId, params), status: params.status ?? "" })
}

export const TopProducts: ReportDefinition<typeof TopProductsRequest.Type> = {
  reportType: "top-products",
  title: "Top products",
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
  queryParameters: (merchantId, params) => ({ ...rangeParameters(merchantId, params), limit: params.limit })
}

export const ReportCatalogue = {
  "sales-trend": SalesTrend,
  orders: Orders,
  "top-products": TopProducts
} as const satisfies { readonly [T in ReportType]: ReportDefinition<Extract<ReportRequest, { _tag: T }>> }

export const definitionOf = (request: ReportRequest): ReportDefinition =>
  ReportCatalogue[request._tag] as ReportDefinition

/** The parameters a report's SQL is run with: the caller's merchant first, then the report's own. */
export const queryParametersOf = (merchantId: MerchantId, request: ReportRequest): QueryParameters => {
  switch (request._tag) {
    case "sales-trend":
      return SalesTrend.queryParameters(merchantId, request.params)
    case "orders":
      return Orders.queryParameters(merchantId, request.params)
    case "top-products":
      return TopProducts.queryParameters(merchantId, request.params)
  }
}

/** A readable file name: "orders_2024-01-01_2024-03-31.csv". */
export const downloadFileName = (request: ReportRequest, format: ExportFormat): string =>
  `${request._tag}_${request.params.dateFrom}_${request.params.dateTo}.${format}`

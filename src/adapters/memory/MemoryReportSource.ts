// The report catalogue evaluated in JavaScript over generated order lines, with the semantics of its SQL:
// the merchant filter, local calendar days in the report's time zone, the same columns, order and formats.
import { Duration, Effect, Layer, Option, Stream } from "effect"
import { previewOfRows, ReportSource } from "../../application/ports/ReportSource.js"
import type { ReportQuery } from "../../application/ports/ReportSource.js"
import { piecesOfRows } from "../../application/RowPieces.js"
import { encodeRow } from "../../domain/Csv.js"
import { QueryFailed, QueryTimeout } from "../../domain/Errors.js"
import type { MerchantId } from "../../domain/Identifiers.js"
import type {
  Cell,
  OrdersParams,
  ReportRequest,
  ReportRow,
  SalesTrendParams,
  TopProductsParams
} from "../../domain/Reports.js"
import { epochDay } from "../../domain/Reports.js"
import type { OrderLine } from "./DemoOrders.js"
import { FaultInjection } from "./FaultInjection.js"

/** A merchant's order lines in ordered_at order, fresh on every call. */
export type OrderLineDataset = (merchantId: MerchantId) => Iterable<OrderLine>

const DAY_MS = 86_400_000

const formatters = new Map<string, Intl.DateTimeFormat>()
const formatterFor = (timeZone: string): Intl.DateTimeFormat => {
  let formatter = formatters.get(timeZone)
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23"
    })
    formatters.set(timeZone, formatter)
  }
  return formatter
}

/** The local date and time of an instant in a time zone, as ClickHouse's toDate/formatDateTime give them. */
export const localDateTime = (epochMillis: number, timeZone: string): { date: string; time: string } => {
  const parts: Record<string, string> = {}
  for (const part of formatterFor(timeZone).formatToParts(epochMillis)) parts[part.type] = part.value
  return {
    date: `${parts["year"]}-${parts["month"]}-${parts["day"]}`,
    time: `${parts["hour"]}:${parts["minute"]}:${parts["second"]}`
  }
}

/** Cents as ClickHouse prints a Decimal(18, 2): no trailing zeros ("12.5", "12", "12.05"). */
export const formatCents = (cents: number): string => {
  const sign = cents < 0 ? "-" : ""
  const whole = Math.floor(Math.abs(cents) / 100)
  const fraction = Math.abs(cents) % 100
  if (fraction === 0) return `${sign}${whole}`
  return fraction % 10 === 0
    ? `${sign}${whole}.${fraction / 10}`
    : `${sign}${whole}.${String(fraction).padStart(2, "0")}`
}

const mondayOf = (date: string): string => {
  const day = epochDay(date as never)
  const weekday = (day + 3) % 7 // 1970-01-01 was a Thursday; 0 = Monday
  return new Date((day - weekday) * DAY_MS).toISOString().slice(0, 10)
}

interface Range {
  readonly dateFrom: string
  readonly dateTo: string
  readonly timezone: string
}

/** The lines of the range, by local date, read lazily and stopped once past the widened UTC window. */
function* linesIn(
  dataset: Iterable<OrderLine>,
  range: Range
): Generator<{ line: OrderLine; local: { date: string; time: string } }> {
  const lower = Date.parse(`${range.dateFrom}T00:00:00Z`) - DAY_MS
  const upper = Date.parse(`${range.dateTo}T00:00:00Z`) + 2 * DAY_MS
  for (const line of dataset) {
    if (line.orderedAt < lower) continue
    if (line.orderedAt >= upper) return
    const local = localDateTime(line.orderedAt, range.timezone)
    if (local.date >= range.dateFrom && local.date <= range.dateTo) yield { line, local }
  }
}

function* ordersRows(dataset: Iterable<OrderLine>, params: OrdersParams): Generator<ReportRow> {
  for (const { line, local } of linesIn(dataset, params)) {
    if (params.status !== undefined && line.status !== params.status) continue
    yield [
      line.orderId,
      line.lineNumber,
      `${local.date} ${local.time}`,
      line.status,
      line.customerId,
      line.productId,
      line.sku,
      line.productName,
      line.quantity,
      formatCents(line.unitPriceCents),
      formatCents(line.lineTotalCents),
      line.currency
    ]
  }
}

const salesTrendRows = (dataset: Iterable<OrderLine>, params: SalesTrendParams): Array<ReportRow> => {
  const periods = new Map<string, { revenue: number; orders: Set<string>; units: number }>()
  for (const { line, local } of linesIn(dataset, params)) {
    if (line.status === "cancelled") continue
    const period = params.granularity === "month"
      ? `${local.date.slice(0, 7)}-01`
      : params.granularity === "week"
      ? mondayOf(local.date)
      : local.date
    const totals = periods.get(period) ?? { revenue: 0, orders: new Set<string>(), units: 0 }
    totals.revenue += line.lineTotalCents
    totals.orders.add(line.orderId)
    totals.units += line.quantity
    periods.set(period, totals)
  }
  return Array.from(periods.entries())
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map((
      [period, totals]
    ): ReadonlyArray<Cell> => [period, formatCents(totals.revenue), totals.orders.size, totals.units])
}

const topProductsRows = (dataset: Iterable<OrderLine>, params: TopProductsParams): Array<ReportRow> => {
  const products = new Map<string, { sku: string; name: string; units: number; revenue: number; orders: Set<string> }>()
  for (const { line } of linesIn(dataset, params)) {
    if (line.status === "cancelled") continue
    const totals = products.get(line.productId) ??
      { sku: line.sku, name: line.productName, units: 0, revenue: 0, orders: new Set<string>() }
    totals.units += line.quantity
    totals.revenue += line.lineTotalCents
    totals.orders.add(line.orderId)
    products.set(line.productId, totals)
  }
  return Array.from(products.entries())
    .sort(([idA, a], [idB, b]) => b.revenue - a.revenue || (idA < idB ? -1 : 1))
    .slice(0, params.limit)
    .map(([id, p]): ReadonlyArray<Cell> => [id, p.sku, p.name, p.units, formatCents(p.revenue), p.orders.size])
}

const rowsOf = (dataset: Iterable<OrderLine>, report: ReportRequest): Stream.Stream<ReportRow> => {
  switch (report._tag) {
    case "orders":
      return Stream.fromIterable({ [Symbol.iterator]: () => ordersRows(dataset, report.params) })
    case "sales-trend":
      return Stream.suspend(() => Stream.fromIterable(salesTrendRows(dataset, report.params)))
    case "top-products":
      return Stream.suspend(() => Stream.fromIterable(topProductsRows(dataset, report.params)))
  }
}

export const make = (dataset: OrderLineDataset) =>
  Effect.gen(function*() {
    const faults = yield* FaultInjection
    const rows = (query: ReportQuery) =>
      Stream.unwrap(Effect.gen(function*() {
        const rows = rowsOf(dataset(query.merchantId), query.report)
        const fault = yield* faults.fire("query")
        if (Option.isNone(fault)) return rows
        const { afterRows, kind, retryable } = fault.value
        const failure: Stream.Stream<never, QueryTimeout | QueryFailed> = kind === "hang"
          ? Stream.never
          : kind === "timeout"
          ? Stream.fail(
            new QueryTimeout({
              jobId: query.jobId,
              afterMillis: Duration.toMillis(query.timeout),
              rowsBeforeTimeout: afterRows
            })
          )
          : Stream.fail(
            new QueryFailed({
              jobId: query.jobId,
              detail: "injected fault: query error",
              retryable: retryable ?? false
            })
          )
        return Stream.concat(Stream.take(rows, afterRows), failure)
      }))
    return ReportSource.of({
      rows,
      csv: (query) => piecesOfRows(rows(query), encodeRow),
      // Parquet is the database's to write (ADR 50): this source has none, and says so rather than write another.
      parquet: (query) =>
        Stream.fail(
          new QueryFailed({
            jobId: query.jobId,
            detail: "the in-memory report source writes no Parquet; ClickHouse and chdb do",
            retryable: false,
            unavailableFormat: "parquet"
          })
        ),
      preview: previewOfRows(rows)
    })
  })

export const layer = (dataset: OrderLineDataset) => Layer.effect(ReportSource, make(dataset))

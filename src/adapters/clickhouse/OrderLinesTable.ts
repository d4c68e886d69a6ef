// The analytics table the report catalogue reads, as ClickHouse DDL. A plain string shared by every adapter that
// runs the catalogue's SQL (the embedded chdb one today, the production ClickHouse one next), so both read the same
// columns with the same types and the same sort order.
import { ORDER_LINES_TABLE } from "../../domain/Reports.js"

/**
 * One row per order line. Why these types:
 * - `ordered_at` is an instant kept in UTC with milliseconds; reports turn it into local dates and times in the
 *   report's time zone, so no local time is ever stored.
 * - money is `Decimal(18, 2)`, never a float, so sums are exact to the cent and print as the reports expect.
 * - the sort key starts with the merchant, so one tenant's rows are contiguous and the tenant filter that every
 *   report starts with is also its fastest one; then the time, which every report ranges over; then the order id
 *   and line number, which is the orders report's own order, so it reads rows already sorted.
 * - `LowCardinality` only where values are few per merchant and part (merchant, status, currency); ids and product
 *   names stay plain `String`, as a large catalogue would outgrow a dictionary.
 * - partitions by month keep parts of a bounded size and let old months be dropped whole.
 */
export const ORDER_LINES_DDL = `
CREATE TABLE IF NOT EXISTS ${ORDER_LINES_TABLE} (
  merchant_id LowCardinality(String),
  order_id String,
  line_number UInt32,
  ordered_at DateTime64(3, 'UTC'),
  status LowCardinality(String),
  customer_id String,
  product_id String,
  sku String,
  product_name String,
  quantity UInt32,
  unit_price Decimal(18, 2),
  line_total Decimal(18, 2),
  currency LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ordered_at)
ORDER BY (merchant_id, ordered_at, order_id, line_number)`

/** The columns of the table in DDL order, for inserts that name them. */
export const ORDER_LINES_COLUMNS = [
  "merchant_id",
  "order_id",
  "line_number",
  "ordered_at",
  "status",
  "customer_id",
  "product_id",
  "sku",
  "product_name",
  "quantity",
  "unit_price",
  "line_total",
  "currency"
] as const

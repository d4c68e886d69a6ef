// A report the code was not written with, added to a copy of the real catalogue: what adding a report takes is one
// definition (ADR 24), and the tests that use it check that everything else follows from it.
import { Layer, Schema } from "effect"
import { CurrentCatalogue } from "../../src/application/CurrentCatalogue.js"
import { catalogueOf, defineReport, rangeParams, ReportCatalogue, wholeNumber } from "../../src/domain/Reports.js"

export const Refunds = defineReport({
  reportType: "refunds",
  title: "Refunds",
  params: rangeParams(31, {
    minQuantity: wholeNumber(1, 50, "min-quantity-range"),
    currency: Schema.optional(Schema.Literal("EUR", "USD"))
  }),
  columns: [
    { name: "order_id", type: "string", header: "Order ID" },
    { name: "quantity", type: "integer", header: "Quantity" }
  ],
  sql: `
SELECT order_id, quantity
FROM order_lines
WHERE merchant_id = {merchantId:String} AND status = 'refunded' AND quantity >= {minQuantity:UInt32}
  AND ({currency:String} = '' OR currency = {currency:String})
  AND toDate(ordered_at, {timezone:String}) BETWEEN {dateFrom:Date} AND {dateTo:Date}
ORDER BY ordered_at, order_id`,
  queryParameters: (params) => ({
    dateFrom: params.dateFrom,
    dateTo: params.dateTo,
    timezone: params.timezone,
    minQuantity: params.minQuantity,
    currency: params.currency ?? ""
  })
})

/** The real catalogue and refunds, last. */
export const withRefunds = catalogueOf(...ReportCatalogue.definitions, Refunds)

/**
 * `withRefunds` where the code expects a catalogue. The code is compiled against the real catalogue, whose types know
 * no refunds: this one is wider only at run time, which is what these tests look at.
 */
export const servedWithRefunds = withRefunds as unknown as typeof ReportCatalogue

/** `withRefunds` as the catalogue in use. */
export const RefundsInUse = Layer.succeed(CurrentCatalogue, servedWithRefunds)

/** A valid refunds request as a client writes it, flat. */
export const refundsBody = (fields: Record<string, unknown> = {}) => ({
  reportType: "refunds",
  format: "csv",
  dateFrom: "2024-03-01",
  dateTo: "2024-03-31",
  minQuantity: 2,
  ...fields
})

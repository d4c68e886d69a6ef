import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, JSONSchema, Schema } from "effect"
import { ExportCommand } from "../../src/application/RequestExport.js"
import { MerchantId } from "../../src/domain/Identifiers.js"
import {
  catalogueOf,
  defineReport,
  definitionOf,
  maxRangeDaysOf,
  Orders,
  OrdersParams,
  queryParametersOf,
  rangeDays,
  ReportCatalogue,
  ReportRequest,
  SalesTrendParams,
  TimeZone,
  TopProductsParams,
  wholeNumber
} from "../../src/domain/Reports.js"
import { decodeInput } from "../../src/domain/Validation.js"

const decodeCommand = decodeInput(ExportCommand)

const issuesOf = (input: unknown) =>
  Either.match(decodeCommand(input), {
    onLeft: (error) => error.issues.map(({ field, rule }) => ({ field, rule })),
    onRight: () => []
  })

const placeholders = (sql: string): Array<string> => Array.from(sql.matchAll(/\{(\w+):\w+\}/g), (m) => m[1]!)

describe("report catalogue", () => {
  it.prop(
    "every report's SQL is scoped to the caller's merchant and bound only to parameters it is given",
    [Arbitrary.make(ReportRequest), Arbitrary.make(MerchantId)],
    ([request, merchantId]) => {
      const definition = definitionOf(request)
      const parameters = queryParametersOf(merchantId, request)
      expect(definition.sql).toContain("merchant_id = {merchantId:String}")
      expect(parameters["merchantId"]).toBe(merchantId)
      for (const name of placeholders(definition.sql)) expect(Object.keys(parameters)).toContain(name)
      expect(definition.sql).not.toMatch(/\$\{|'\s*\+/)
    },
    { fastCheck: { numRuns: 100 } }
  )

  it.prop(
    "valid parameters respect their limits",
    [Arbitrary.make(SalesTrendParams), Arbitrary.make(OrdersParams), Arbitrary.make(TopProductsParams)],
    ([trend, orders, top]) => {
      expect(trend.dateFrom <= trend.dateTo && rangeDays(trend) <= 3 * 366).toBe(true)
      expect(orders.dateFrom <= orders.dateTo && rangeDays(orders) <= 366).toBe(true)
      expect(top.limit >= 1 && top.limit <= 1000).toBe(true)
      expect(Schema.is(SalesTrendParams)(trend)).toBe(true)
      expect(Schema.is(OrdersParams)(orders)).toBe(true)
      expect(Schema.is(TopProductsParams)(top)).toBe(true)
    },
    { fastCheck: { numRuns: 100 } }
  )

  it("has one column definition per selected value", () => {
    for (const definition of ReportCatalogue.definitions) {
      expect(new Set(definition.columns.map((c) => c.name)).size).toBe(definition.columns.length)
      for (const column of definition.columns) expect(definition.sql).toMatch(new RegExp(`\\b${column.name}\\b`))
    }
  })
})

describe("report definitions", () => {
  it("refuses a report whose SQL does not filter by the caller's merchant", () => {
    expect(() => defineReport({ ...Orders, reportType: "everyone", sql: "SELECT order_id FROM order_lines" })).toThrow(
      /does not filter by merchant_id = \{merchantId:String\}/
    )
  })

  it("binds the caller's merchant whatever a report's own values say", () => {
    const sneaky = defineReport({
      ...Orders,
      reportType: "sneaky",
      // Past the compiler, which refuses a report's own merchantId.
      queryParameters: (params) => ({ ...Orders.queryParameters(params), merchantId: "m-other" } as never)
    })
    const request = Schema.decodeUnknownSync(catalogueOf(sneaky).ReportRequest)({
      _tag: "sneaky",
      params: { dateFrom: "2024-01-01", dateTo: "2024-01-31" }
    })
    expect(catalogueOf(sneaky).queryParametersOf(MerchantId.make("m-acme"), request)["merchantId"]).toBe("m-acme")
  })

  it("refuses two reports of one type in a catalogue", () => {
    expect(() => catalogueOf(Orders, { ...Orders, title: "Orders again" })).toThrow(/same reportType/)
  })

  it("declares each report's longest range on its parameters' schema", () => {
    expect(ReportCatalogue.definitions.map((definition) => [definition.reportType, maxRangeDaysOf(definition.params)]))
      .toStrictEqual([["sales-trend", 1098], ["orders", 366], ["top-products", 1098]])
  })

  it("states a whole number's bounds in its JSON Schema and names its rule when broken", () => {
    const count = wholeNumber(2, 9, "count-range")
    expect(JSONSchema.make(count)).toMatchObject({ minimum: 2, maximum: 9 })
    const issues = (value: unknown) =>
      Either.match(decodeInput(Schema.Struct({ count }))({ count: value }), {
        onLeft: (error) => error.issues.map(({ field, message, rule }) => ({ field, rule, message })),
        onRight: () => []
      })
    const outside = [{ field: "count", rule: "count-range", message: "must be a whole number from 2 to 9" }]
    expect(issues(1)).toStrictEqual(outside)
    expect(issues(10)).toStrictEqual(outside)
    expect(issues(2.5)).toStrictEqual(outside)
    expect(issues("3")).toStrictEqual([{ field: "count", rule: "number", message: "must be a number" }])
    expect(issues(9)).toStrictEqual([])
  })
})

describe("export request validation", () => {
  const valid = { reportType: "orders", format: "csv", params: { dateFrom: "2024-01-01", dateTo: "2024-01-31" } }

  it("accepts a valid request and fills defaults", () => {
    const decoded = Either.getOrThrow(decodeCommand(valid))
    expect(decoded.params).toMatchObject({ timezone: "UTC", dateFrom: "2024-01-01", dateTo: "2024-01-31" })
  })

  it.each([
    [{ ...valid, reportType: "revenue" }, [{ field: "reportType", rule: "one-of" }]],
    [{ ...valid, format: "xlsx" }, [{ field: "format", rule: "one-of" }]],
    [{ ...valid, params: { dateFrom: "2024-02-30", dateTo: "2024-03-01" } }, [{
      field: "params.dateFrom",
      rule: "calendar-date"
    }]],
    [{ ...valid, params: { dateFrom: "2024-03-01", dateTo: "2024-01-01" } }, [{
      field: "params.dateTo",
      rule: "date-order"
    }]],
    [{ ...valid, params: { dateFrom: "2022-01-01", dateTo: "2024-01-01" } }, [{
      field: "params.dateTo",
      rule: "max-range"
    }]],
    [{ ...valid, params: { ...valid.params, timezone: "Mars/Olympus" } }, [{
      field: "params.timezone",
      rule: "iana-time-zone"
    }]],
    [{ ...valid, params: { ...valid.params, dateTo: 20240131 } }, [{ field: "params.dateTo", rule: "string" }]],
    [{ ...valid, params: { ...valid.params, sql: "1=1" } }, [{ field: "params.sql", rule: "unknown-field" }]],
    [{ ...valid, extra: true }, [{ field: "extra", rule: "unknown-field" }]],
    [{ reportType: "orders", format: "csv" }, [{ field: "params", rule: "required" }]],
    [{ ...valid, reportType: "top-products", params: { ...valid.params, limit: 0 } }, [{
      field: "params.limit",
      rule: "limit-range"
    }]],
    [{ ...valid, reportType: "top-products", params: { ...valid.params, limit: 2.5 } }, [{
      field: "params.limit",
      rule: "limit-range"
    }]],
    [{ ...valid, reportType: "top-products", params: { ...valid.params, limit: "10" } }, [{
      field: "params.limit",
      rule: "number"
    }]],
    [{ ...valid, reportType: "sales-trend", params: { ...valid.params, granularity: "hour" } }, [{
      field: "params.granularity",
      rule: "one-of"
    }]],
    ["not an object", [{ field: "", rule: "object" }]]
  ])("rejects %j naming the field and the rule", (input, expected) => {
    expect(issuesOf(input)).toStrictEqual(expected)
  })

  it("reports every broken rule at once", () => {
    const fields = issuesOf({ reportType: "orders", format: "pdf", params: { dateFrom: "x", dateTo: "y", z: 1 } })
      .map((issue) => issue.field)
    expect(fields).toEqual(expect.arrayContaining(["format", "params.dateFrom", "params.dateTo", "params.z"]))
  })
})

describe("time zones", () => {
  /** What the rule must answer: whether ICU builds a date format for the zone. */
  const icuAccepts = (zone: string): boolean => {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone })
      return true
    } catch {
      return false
    }
  }
  const isTimeZone = Schema.is(TimeZone)

  it("accepts exactly the zones ICU accepts: every listed zone, UTC, aliases and other letter cases", () => {
    const names = [
      ...Intl.supportedValuesOf("timeZone"),
      "UTC",
      "Etc/UTC",
      "GMT",
      "Asia/Kolkata",
      "Asia/Calcutta",
      "US/Eastern",
      "europe/paris",
      "EUROPE/PARIS",
      "utc",
      "Etc/GMT+5",
      "+01:00",
      "Mars/Olympus",
      "Europe/Pariss",
      "",
      " UTC",
      "Europe/Paris\u0000"
    ]
    expect(names.filter((name) => isTimeZone(name) !== icuAccepts(name))).toStrictEqual([])
    expect(names.filter(isTimeZone).length).toBeGreaterThan(400)
    expect(isTimeZone("Mars/Olympus")).toBe(false)
  })

  it("refuses a name longer than 64 characters, whatever ICU says", () => {
    expect(isTimeZone(`Europe/${"x".repeat(60)}`)).toBe(false)
    expect(isTimeZone("America/Argentina/ComodRivadavia")).toBe(icuAccepts("America/Argentina/ComodRivadavia"))
  })
})

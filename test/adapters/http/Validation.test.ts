// Invalid export requests and list queries: a 400 in the one error shape whose details name each field as the
// client wrote it and the rule it broke. Never a 500, and nothing recorded.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { CalendarDate, TimeZone } from "../../../src/domain/Reports.js"
import { apiTestLayer, clientFor, tokenFor } from "../../support/ApiHarness.js"
import { alice } from "../../support/Fixtures.js"
import { expectApiError, EXPORTS_PATH, getRaw, issuesOf, postExport } from "./HttpSupport.js"

/** Issues in a stable order: the API promises every issue, not an order. */
const sorted = (issues: ReadonlyArray<{ field: string; rule: string }>) =>
  [...issues].sort((a, b) => `${a.field}/${a.rule}`.localeCompare(`${b.field}/${b.rule}`))

const valid = { reportType: "orders", format: "csv", dateFrom: "2024-01-01", dateTo: "2024-03-31" }

const invalidBodies: ReadonlyArray<{
  readonly name: string
  readonly body: unknown
  readonly issues: ReadonlyArray<{ field: string; rule: string }>
}> = [
  {
    name: "an unknown reportType",
    body: { ...valid, reportType: "refunds" },
    issues: [{ field: "reportType", rule: "one-of" }]
  },
  { name: "format xlsx", body: { ...valid, format: "xlsx" }, issues: [{ field: "format", rule: "one-of" }] },
  {
    name: "a date that does not exist",
    body: { ...valid, dateFrom: "2024-02-30" },
    issues: [{ field: "dateFrom", rule: "calendar-date" }]
  },
  {
    name: "a date in another form",
    body: { ...valid, dateTo: "31/03/2024" },
    issues: [{ field: "dateTo", rule: "calendar-date" }]
  },
  {
    name: "dateTo before dateFrom",
    body: { ...valid, dateFrom: "2024-03-01", dateTo: "2024-02-01" },
    issues: [{ field: "dateTo", rule: "date-order" }]
  },
  {
    name: "an orders range over 366 days",
    body: { ...valid, dateFrom: "2023-01-01", dateTo: "2024-01-02" },
    issues: [{ field: "dateTo", rule: "max-range" }]
  },
  {
    name: "a sales-trend range over 1098 days",
    body: { ...valid, reportType: "sales-trend", dateFrom: "2020-01-01", dateTo: "2023-01-03" },
    issues: [{ field: "dateTo", rule: "max-range" }]
  },
  {
    name: "an unknown time zone",
    body: { ...valid, timezone: "Mars/Base" },
    issues: [{ field: "timezone", rule: "iana-time-zone" }]
  },
  { name: "dateTo as a number", body: { ...valid, dateTo: 20240331 }, issues: [{ field: "dateTo", rule: "string" }] },
  { name: "an unknown field", body: { ...valid, colour: "red" }, issues: [{ field: "colour", rule: "unknown-field" }] },
  {
    name: "the parameters nested under params",
    body: { reportType: "orders", format: "csv", params: { dateFrom: "2024-01-01", dateTo: "2024-03-31" } },
    issues: [{ field: "dateFrom", rule: "required" }, { field: "dateTo", rule: "required" }, {
      field: "params",
      rule: "unknown-field"
    }]
  },
  {
    name: "a parameter of another report (limit on orders)",
    body: { ...valid, limit: 10 },
    issues: [{ field: "limit", rule: "unknown-field" }]
  },
  {
    name: "an order status that does not exist",
    body: { ...valid, status: "lost" },
    issues: [{ field: "status", rule: "one-of" }]
  },
  {
    name: "granularity hour on sales-trend",
    body: { ...valid, reportType: "sales-trend", granularity: "hour" },
    issues: [{ field: "granularity", rule: "one-of" }]
  },
  {
    name: "limit 0 on top-products",
    body: { ...valid, reportType: "top-products", limit: 0 },
    issues: [{ field: "limit", rule: "limit-range" }]
  },
  {
    name: "limit 1001 on top-products",
    body: { ...valid, reportType: "top-products", limit: 1001 },
    issues: [{ field: "limit", rule: "limit-range" }]
  },
  { name: "a JSON string body", body: "orders", issues: [{ field: "", rule: "object" }] },
  { name: "a JSON null body", body: null, issues: [{ field: "", rule: "object" }] },
  { name: "a JSON number body", body: 42, issues: [{ field: "", rule: "object" }] }
]

describe("HTTP API: validation of an export request", () => {
  for (const { body, issues, name } of invalidBodies) {
    it.effect(`answers ${name} with a 400 naming each field and rule`, () =>
      Effect.gen(function*() {
        const token = yield* tokenFor(alice)
        const error = expectApiError(yield* postExport(token, body), 400, "invalid_request")
        expect(sorted(issuesOf(error))).toStrictEqual(sorted(issues))
        for (const issue of error.error.details ?? []) expect(issue.message.length).toBeGreaterThan(0)
        // Nothing was recorded for a refused request.
        const client = yield* clientFor(alice)
        expect((yield* client.exports.listExports({ urlParams: {} })).items).toHaveLength(0)
      }).pipe(Effect.provide(apiTestLayer())))
  }

  it.effect("answers a JSON array body with a 400, never a 500", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const error = expectApiError(yield* postExport(token, [valid]), 400, "invalid_request")
      expect(issuesOf(error)).toStrictEqual([{ field: "", rule: "object" }])
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("reports every broken rule of one body at once, in the body's flat field names", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const error = expectApiError(
        yield* postExport(token, {
          reportType: "top-products",
          format: "csv",
          dateFrom: "2024-13-01",
          dateTo: 5,
          timezone: "Mars/Base",
          limit: 0
        }),
        400,
        "invalid_request"
      )
      expect(sorted(issuesOf(error))).toStrictEqual(sorted([
        { field: "dateFrom", rule: "calendar-date" },
        { field: "dateTo", rule: "string" },
        { field: "timezone", rule: "iana-time-zone" },
        { field: "limit", rule: "limit-range" }
      ]))
      for (const { field } of error.error.details ?? []) expect(field).not.toMatch(/^params/)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("answers required fields left out with a 400 naming them", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const error = expectApiError(yield* postExport(token, { reportType: "orders" }), 400, "invalid_request")
      expect(issuesOf(error).map((issue) => issue.field).sort()).toStrictEqual(["dateFrom", "dateTo", "format"])
      expect(issuesOf(error)).toContainEqual({ field: "dateFrom", rule: "required" })
      expect(issuesOf(error)).toContainEqual({ field: "dateTo", rule: "required" })
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("accepts a range of exactly the orders maximum (366 days) and the optional parameters of each report", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(alice)
      const accepted = yield* Effect.all([
        client.exports.requestExport({
          payload: {
            reportType: "orders",
            format: "csv",
            dateFrom: CalendarDate.make("2024-01-01"),
            dateTo: CalendarDate.make("2024-12-31"),
            status: "paid"
          },
          headers: {}
        }),
        client.exports.requestExport({
          payload: {
            reportType: "top-products",
            format: "csv",
            dateFrom: CalendarDate.make("2024-01-01"),
            dateTo: CalendarDate.make("2024-03-31"),
            limit: 1000,
            timezone: TimeZone.make("Europe/Paris")
          },
          headers: {}
        }),
        client.exports.requestExport({
          payload: {
            reportType: "sales-trend",
            format: "csv",
            dateFrom: CalendarDate.make("2022-01-01"),
            dateTo: CalendarDate.make("2024-12-31"),
            granularity: "week"
          },
          headers: {}
        })
      ])
      expect(accepted.map((a) => a.status)).toStrictEqual(["queued", "queued", "queued"])
      expect(new Set(accepted.map((a) => a.jobId)).size).toBe(3)
    }).pipe(Effect.provide(apiTestLayer())))
})

describe("HTTP API: validation of the Idempotency-Key", () => {
  for (
    const [name, key] of [
      ["with a space", "not a key"],
      ["over 255 characters", "k".repeat(256)],
      ["with a non-ASCII character", "clé-1"]
    ] as const
  ) {
    it.effect(`answers a key ${name} with a 400 naming Idempotency-Key`, () =>
      Effect.gen(function*() {
        const token = yield* tokenFor(alice)
        const error = expectApiError(
          yield* postExport(token, valid, { "idempotency-key": key }),
          400,
          "invalid_request"
        )
        expect(issuesOf(error)).toStrictEqual([{ field: "Idempotency-Key", rule: "idempotency-key" }])
      }).pipe(Effect.provide(apiTestLayer())))
  }
})

describe("HTTP API: validation of the list query", () => {
  for (const limit of ["0", "101", "abc", "1.5", "-1", ""]) {
    it.effect(`answers limit=${JSON.stringify(limit)} with a 400 naming limit`, () =>
      Effect.gen(function*() {
        const token = yield* tokenFor(alice)
        const error = expectApiError(
          yield* getRaw(`${EXPORTS_PATH}?limit=${encodeURIComponent(limit)}`, token),
          400,
          "invalid_request"
        )
        expect(issuesOf(error)).toStrictEqual([{ field: "limit", rule: "limit-range" }])
      }).pipe(Effect.provide(apiTestLayer())))
  }

  it.effect("answers a cursor that no page gave with a 400 naming cursor", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const error = expectApiError(yield* getRaw(`${EXPORTS_PATH}?cursor=not-a-cursor`, token), 400, "invalid_request")
      expect(issuesOf(error)).toStrictEqual([{ field: "cursor", rule: "cursor" }])
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("accepts the bounds of limit", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(alice)
      for (const limit of ["1", "100"]) {
        expect((yield* client.exports.listExports({ urlParams: { limit } })).items).toStrictEqual([])
      }
    }).pipe(Effect.provide(apiTestLayer())))
})

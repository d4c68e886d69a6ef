// GET /api/v1/reports/{reportType}/preview over the in-memory adapters (ADR 35): the caller's merchant's first rows
// as { columns, rows, more }, the export request's validation for the same parameters (the very same details), a 504
// past PREVIEW_TIMEOUT, a 503 for a report that cannot be read, and its place in the OpenAPI document.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Schema, Stream } from "effect"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import { ReportSource } from "../../../src/application/ports/ReportSource.js"
import { PREVIEW_ROWS } from "../../../src/application/PreviewReport.js"
import { makeExportJobId } from "../../../src/domain/Identifiers.js"
import { definitionOf, ReportRequest } from "../../../src/domain/Reports.js"
import { apiTestLayer, clientFor, tokenFor } from "../../support/ApiHarness.js"
import { alice, bob } from "../../support/Fixtures.js"
import { expectApiError, expectRefused, getRaw, issuesOf, postExport } from "./HttpSupport.js"

const previewPath = (reportType: string, query: Record<string, string | ReadonlyArray<string>>) => {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) {
    for (const one of typeof value === "string" ? [value] : value) search.append(name, one)
  }
  return `/api/v1/reports/${reportType}/preview?${search.toString()}`
}

const Q1 = { dateFrom: "2024-01-01", dateTo: "2024-03-31" }

/** What the in-memory source gives for `merchantId` and the report: the rows a preview must start with. */
const rowsOf = (merchantId: typeof alice.owner.merchantId, report: ReportRequest) =>
  Effect.flatMap(ReportSource, (source) =>
    Stream.runCollect(
      source.rows({
        jobId: makeExportJobId(Date.now(), new Uint8Array(10)),
        merchantId,
        report,
        timeout: Duration.seconds(30)
      })
    )).pipe(Effect.map(Chunk.toReadonlyArray))

const request = (reportType: string, params: Record<string, unknown>) =>
  Schema.decodeUnknownSync(ReportRequest)({ _tag: reportType, params })

describe("GET /api/v1/reports/{reportType}/preview", () => {
  it.effect("answers the caller's merchant's first 100 rows with the report's columns, and says there are more", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(alice)
      const preview = yield* client.reports.previewReport({ path: { reportType: "orders" }, urlParams: Q1 })
      const definition = definitionOf(request("orders", Q1))
      expect(preview.columns.map((column) => ({ ...column }))).toStrictEqual(
        definition.columns.map(({ header, name, type }) => ({ name, type, header }))
      )
      expect(preview.rows).toHaveLength(PREVIEW_ROWS)
      expect(preview.more).toBe(true)
      const expected = (yield* rowsOf(alice.owner.merchantId, request("orders", Q1))).slice(0, PREVIEW_ROWS)
      expect(preview.rows).toStrictEqual(expected)
      // Integers are numbers, decimals text: as the columns say.
      const quantity = definition.columns.findIndex((column) => column.name === "quantity")
      const total = definition.columns.findIndex((column) => column.name === "line_total")
      expect(preview.rows.every((row) => typeof row[quantity] === "number")).toBe(true)
      expect(preview.rows.every((row) => typeof row[total] === "string")).toBe(true)
    }).pipe(Effect.provide(apiTestLayer(300))))

  it.effect("never shows another merchant's rows: each caller sees their own merchant's only", () =>
    Effect.gen(function*() {
      for (const [caller, other] of [[alice, bob], [bob, alice]] as const) {
        const token = yield* tokenFor(caller)
        const response = yield* getRaw(previewPath("orders", Q1), token)
        expect(response.status, response.text).toBe(200)
        const { rows } = response.json as { rows: ReadonlyArray<ReadonlyArray<unknown>> }
        expect(rows.length).toBeGreaterThan(0)
        expect(rows.filter((row) => !String(row[0]).startsWith(`${caller.owner.merchantId}-`))).toStrictEqual([])
        expect(rows.filter((row) => String(row[0]).startsWith(`${other.owner.merchantId}-`))).toStrictEqual([])
      }
    }).pipe(Effect.provide(apiTestLayer(50))))

  it.effect("reads every report's own parameters from the query: granularity, status, and limit as a number", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const trend = yield* getRaw(previewPath("sales-trend", { ...Q1, granularity: "month" }), token)
      expect(trend.status, trend.text).toBe(200)
      const monthly = trend.json as { rows: ReadonlyArray<ReadonlyArray<unknown>>; more: boolean }
      expect(monthly.rows.map((row) => row[0])).toStrictEqual(["2024-01-01", "2024-02-01", "2024-03-01"])
      expect(monthly.more).toBe(false)
      expect(monthly.rows.every((row) => typeof row[1] === "string" && typeof row[2] === "number")).toBe(true)

      const top = yield* getRaw(previewPath("top-products", { ...Q1, limit: "3", timezone: "Europe/Paris" }), token)
      expect(top.status, top.text).toBe(200)
      expect((top.json as { rows: ReadonlyArray<unknown> }).rows).toHaveLength(3)

      const paid = yield* getRaw(previewPath("orders", { ...Q1, status: "paid" }), token)
      const paidRows = (paid.json as { rows: ReadonlyArray<ReadonlyArray<unknown>> }).rows
      expect(paidRows.length).toBeGreaterThan(0)
      expect(paidRows.every((row) => row[3] === "paid")).toBe(true)

      const empty = yield* getRaw(previewPath("orders", { dateFrom: "2030-01-01", dateTo: "2030-01-31" }), token)
      expect(empty.json).toMatchObject({ rows: [], more: false })
      expect(empty.headers["cache-control"]).toBe("private, no-store")
    }).pipe(Effect.provide(apiTestLayer(200))))

  describe("refuses what an export request refuses, with the same details", () => {
    const cases: ReadonlyArray<{
      readonly name: string
      readonly reportType: string
      readonly query: Record<string, string | ReadonlyArray<string>>
      readonly issues: ReadonlyArray<{ field: string; rule: string }>
    }> = [
      {
        name: "an unknown report",
        reportType: "refunds",
        query: Q1,
        issues: [{ field: "reportType", rule: "one-of" }]
      },
      {
        name: "no dateTo",
        reportType: "orders",
        query: { dateFrom: "2024-01-01" },
        issues: [{ field: "dateTo", rule: "required" }]
      },
      {
        name: "dateTo before dateFrom",
        reportType: "orders",
        query: { dateFrom: "2024-03-01", dateTo: "2024-02-01" },
        issues: [{ field: "dateTo", rule: "date-order" }]
      },
      {
        name: "an orders range over 366 days",
        reportType: "orders",
        query: { dateFrom: "2023-01-01", dateTo: "2024-01-02" },
        issues: [{ field: "dateTo", rule: "max-range" }]
      },
      {
        name: "a date that does not exist",
        reportType: "sales-trend",
        query: { ...Q1, dateFrom: "2024-02-30" },
        issues: [{ field: "dateFrom", rule: "calendar-date" }]
      },
      {
        name: "an unknown time zone",
        reportType: "orders",
        query: { ...Q1, timezone: "Mars/Base" },
        issues: [{ field: "timezone", rule: "iana-time-zone" }]
      },
      {
        name: "a limit that is no number",
        reportType: "top-products",
        query: { ...Q1, limit: "ten" },
        issues: [{ field: "limit", rule: "number" }]
      },
      {
        name: "a limit out of range",
        reportType: "top-products",
        query: { ...Q1, limit: "0" },
        issues: [{ field: "limit", rule: "limit-range" }]
      },
      {
        name: "a limit that is not whole",
        reportType: "top-products",
        query: { ...Q1, limit: "1.5" },
        issues: [{ field: "limit", rule: "limit-range" }]
      },
      {
        name: "another report's parameter",
        reportType: "orders",
        query: { ...Q1, granularity: "week" },
        issues: [{ field: "granularity", rule: "unknown-field" }]
      },
      {
        name: "an unknown status",
        reportType: "orders",
        query: { ...Q1, status: "lost" },
        issues: [{ field: "status", rule: "one-of" }]
      }
    ]

    /** The same parameters as the body of an export request: a number where the report takes one. */
    const bodyOf = (reportType: string, query: Record<string, string | ReadonlyArray<string>>) => ({
      reportType,
      format: "csv",
      ...Object.fromEntries(
        Object.entries(query).map(([name, value]) => [
          name,
          name === "limit" && /^-?\d+(\.\d+)?$/.test(String(value)) ? Number(value) : value
        ])
      )
    })

    for (const { issues, name, query, reportType } of cases) {
      it.effect(name, () =>
        Effect.gen(function*() {
          const token = yield* tokenFor(alice)
          const preview = yield* getRaw(previewPath(reportType, query), token)
          expect(issuesOf(expectRefused(preview, "invalid_request"))).toStrictEqual(issues)
          const exported = yield* postExport(token, bodyOf(reportType, query))
          expect(issuesOf(expectRefused(exported, "invalid_request"))).toStrictEqual(issues)
        }).pipe(Effect.provide(apiTestLayer(5))))
    }

    it.effect("a parameter given twice", () =>
      Effect.gen(function*() {
        const token = yield* tokenFor(alice)
        const preview = yield* getRaw(previewPath("orders", { ...Q1, dateFrom: ["2024-01-01", "2024-01-02"] }), token)
        expect(issuesOf(expectRefused(preview, "invalid_request"))).toStrictEqual([{
          field: "dateFrom",
          rule: "string"
        }])
      }).pipe(Effect.provide(apiTestLayer(5))))
  })

  it.effect("needs a token", () =>
    Effect.gen(function*() {
      expectApiError(yield* getRaw(previewPath("orders", Q1)), 401, "unauthorized")
    }).pipe(Effect.provide(apiTestLayer(5))))

  it.live("a preview past PREVIEW_TIMEOUT is a 504 preview_timeout, in the API's error shape", () =>
    Effect.gen(function*() {
      yield* Effect.flatMap(FaultInjection, (faults) => faults.set({ query: { kind: "hang", afterRows: 0 } }))
      const token = yield* tokenFor(alice)
      const started = Date.now()
      const response = yield* getRaw(previewPath("orders", Q1), token)
      const body = expectApiError(response, 504, "preview_timeout")
      expect(body.error.message).toContain("within 1 seconds")
      expect(Date.now() - started).toBeLessThan(5_000)
    }).pipe(Effect.provide(apiTestLayer(50, { settings: { previewTimeout: Duration.seconds(1) } }))))

  it.effect("a report that cannot be read is a 503 report_unavailable with Retry-After", () =>
    Effect.gen(function*() {
      yield* Effect.flatMap(FaultInjection, (faults) => faults.set({ query: { kind: "error", afterRows: 0 } }))
      const response = yield* getRaw(previewPath("orders", Q1), yield* tokenFor(alice))
      expectApiError(response, 503, "report_unavailable")
      expect(response.headers["retry-after"]).toBe("30")
    }).pipe(Effect.provide(apiTestLayer(50))))

  it.effect("is in the OpenAPI document: bearer security, its parameters and its statuses", () =>
    Effect.gen(function*() {
      const document = (yield* getRaw("/openapi.json")).json as {
        paths: Record<
          string,
          Record<string, {
            security?: ReadonlyArray<unknown>
            parameters: ReadonlyArray<{ name: string; in: string; schema?: { enum?: ReadonlyArray<string> } }>
            responses: Record<string, unknown>
          }>
        >
      }
      const operation = document.paths["/api/v1/reports/{reportType}/preview"]?.["get"]
      expect(operation).toBeDefined()
      expect(operation?.security?.length).toBeGreaterThan(0)
      expect(Object.keys(operation?.responses ?? {})).toEqual(
        expect.arrayContaining(["200", "400", "401", "503", "504"])
      )
      const parameters = Object.fromEntries((operation?.parameters ?? []).map((p) => [p.name, p]))
      expect(parameters["reportType"]?.in).toBe("path")
      expect(parameters["reportType"]?.schema?.enum).toStrictEqual(["sales-trend", "orders", "top-products"])
      for (const name of ["dateFrom", "dateTo", "timezone", "granularity", "status", "limit"]) {
        expect(parameters[name]?.in, name).toBe("query")
      }
    }).pipe(Effect.provide(apiTestLayer(5))))
})

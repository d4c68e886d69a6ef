// A report added to the catalogue is served end to end with nothing else written for it (ADR 24): the OpenAPI
// document describes it, the API validates it by its own rules and queues it, the worker reads its message back and
// asks the report source for it, and its SQL is bound to the caller's merchant and to its parameters.
import { OpenApi } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { exportApiOf } from "../../../src/adapters/http/Api.js"
import { MemoryQueue } from "../../../src/adapters/memory/MemoryJobQueue.js"
import { handleDelivery } from "../../../src/application/ExportWorker.js"
import { previewOfRows, ReportSource } from "../../../src/application/ports/ReportSource.js"
import type { ReportQuery } from "../../../src/application/ports/ReportSource.js"
import { apiTestLayer, tokenFor } from "../../support/ApiHarness.js"
import { Refunds, refundsBody, RefundsInUse, withRefunds } from "../../support/ExtraReport.js"
import { alice } from "../../support/Fixtures.js"
import { expectApiError, issuesOf, postExport } from "./HttpSupport.js"

interface JsonSchema {
  readonly anyOf?: ReadonlyArray<JsonSchema>
  readonly required?: ReadonlyArray<string>
  readonly properties?: Readonly<Record<string, JsonSchema & { readonly enum?: ReadonlyArray<string> }>>
}

/** The members of a body's schema, however the platform nests its unions. */
const membersOf = (schema: JsonSchema): ReadonlyArray<JsonSchema> =>
  schema.anyOf === undefined ? [schema] : schema.anyOf.flatMap(membersOf)

const placeholders = (sql: string): Array<string> => Array.from(sql.matchAll(/\{(\w+):\w+\}/g), (m) => m[1]!)

/** A report source that answers every query with one row, and keeps the queries it was asked. */
const recordingSource = (queries: Array<ReportQuery>) => {
  const rows = (query: ReportQuery) => Stream.sync(() => (queries.push(query), ["o-1", 3]))
  return ReportSource.of({
    rows,
    csv: (query) =>
      Stream.sync(() => (queries.push(query), { bytes: new TextEncoder().encode("\"o-1\",3\r\n"), rows: 1 })),
    parquet: (query) => Stream.sync(() => (queries.push(query), { bytes: new Uint8Array(0), rows: 1 })),
    preview: previewOfRows(rows)
  })
}

describe("a report added to the catalogue", () => {
  it("is described by the OpenAPI document: its reportType, its parameters with their bounds, its longest range", () => {
    const operation = OpenApi.fromApi(exportApiOf(withRefunds)).paths["/api/v1/reports/export"]?.post
    const body = operation?.requestBody?.content["application/json"]?.schema as JsonSchema
    const members = membersOf(body)
    expect(members.map((member) => member.properties?.["reportType"]?.enum)).toStrictEqual([
      ["sales-trend"],
      ["orders"],
      ["top-products"],
      ["refunds"]
    ])
    const refunds = members[3]!
    expect(refunds.required).toStrictEqual(["reportType", "format", "dateFrom", "dateTo", "minQuantity"])
    expect(refunds.properties?.["minQuantity"]).toMatchObject({ minimum: 1, maximum: 50 })
    expect(refunds.properties?.["currency"]).toMatchObject({ enum: ["EUR", "USD"] })
    expect(operation?.description).toContain(
      "Ranges are limited: refunds to 31 days, orders to 366 days, sales-trend and top-products to 1098 days."
    )
  })

  it.effect("is accepted by its own rules, queued, read back by the worker and run with the merchant bound", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const refused = (fields: Record<string, unknown>) =>
        Effect.map(
          postExport(token, refundsBody(fields)),
          (response) => issuesOf(expectApiError(response, 400, "invalid_request"))
        )
      expect(yield* refused({ minQuantity: 51 })).toStrictEqual([{ field: "minQuantity", rule: "min-quantity-range" }])
      expect(yield* refused({ minQuantity: undefined })).toStrictEqual([{ field: "minQuantity", rule: "required" }])
      expect(yield* refused({ dateTo: "2024-04-01" })).toStrictEqual([{ field: "dateTo", rule: "max-range" }])
      expect(yield* refused({ currency: "GBP" })).toStrictEqual([{ field: "currency", rule: "one-of" }])
      expect(yield* refused({ limit: 10 })).toStrictEqual([{ field: "limit", rule: "unknown-field" }])

      const accepted = yield* postExport(token, refundsBody({ currency: "EUR" }))
      expect(accepted.status).toBe(202)
      const report = {
        _tag: "refunds",
        params: { dateFrom: "2024-03-01", dateTo: "2024-03-31", timezone: "UTC", minQuantity: 2, currency: "EUR" }
      }
      const published = yield* (yield* MemoryQueue).published
      expect(published.map((body) => JSON.parse(body) as unknown)).toStrictEqual([{
        jobId: (accepted.json as { jobId: string }).jobId,
        userId: alice.owner.userId,
        merchantId: alice.owner.merchantId,
        report
      }])

      const queries: Array<ReportQuery> = []
      const verdict = yield* handleDelivery(published[0]!).pipe(
        Effect.provideService(ReportSource, recordingSource(queries))
      )
      expect(verdict).toMatchObject({ _tag: "Ack", outcome: { _tag: "Finished", job: { _tag: "Succeeded" } } })
      expect(queries.map((query) => [query.merchantId, query.report])).toStrictEqual([
        [alice.owner.merchantId, report]
      ])

      const parameters = withRefunds.queryParametersOf(queries[0]!.merchantId, queries[0]!.report)
      expect(parameters).toStrictEqual({ ...report.params, merchantId: alice.owner.merchantId })
      expect(new Set(placeholders(Refunds.sql))).toStrictEqual(new Set(Object.keys(parameters)))
    }).pipe(Effect.provide(apiTestLayer().pipe(Layer.provideMerge(RefundsInUse)))))

  it.effect("is refused where the catalogue in use does not have it", () =>
    Effect.gen(function*() {
      const error = expectApiError(yield* postExport(yield* tokenFor(alice), refundsBody()), 400, "invalid_request")
      expect(issuesOf(error)).toStrictEqual([{ field: "reportType", rule: "one-of" }])
    }).pipe(Effect.provide(apiTestLayer())))
})

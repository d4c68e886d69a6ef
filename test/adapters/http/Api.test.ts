import { HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { CalendarDate } from "../../../src/domain/Reports.js"
import { apiTestLayer, clientFor, tokenFor } from "../../support/ApiHarness.js"
import { alice, drainQueue } from "../../support/Fixtures.js"

const body = {
  reportType: "orders",
  format: "csv",
  dateFrom: CalendarDate.make("2024-01-01"),
  dateTo: CalendarDate.make("2024-03-31")
} as const

describe("HTTP API", () => {
  it.effect("accepts an export with 202 and serves its status once done", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(alice)
      const accepted = yield* client.exports.requestExport({ payload: body, headers: {} })
      expect(accepted.status).toBe("queued")
      yield* drainQueue
      const view = yield* client.exports.getExport({ path: { jobId: accepted.jobId } })
      expect(view.status).toBe("succeeded")
      expect(view.file?.rowCount).toBe(50)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("answers raw malformed input with a 4xx in one error shape", () =>
    Effect.gen(function*() {
      const http = yield* HttpClient.HttpClient
      const token = yield* tokenFor(alice)
      const res = yield* http.execute(
        HttpClientRequest.post("/api/v1/reports/export").pipe(
          HttpClientRequest.bearerToken(token),
          HttpClientRequest.bodyText("{not json", "application/json")
        )
      )
      expect(res.status).toBe(400)
      const json = yield* res.json
      expect(json).toMatchObject({ error: { code: "malformed_json" } })
    }).pipe(Effect.provide(apiTestLayer())))
})

// Export again over HTTP, on the API as the Node runtimes serve it: 202 as a first request answers, a new job with
// the same report, parameters and format, 404 for another owner's job, 409 while the export is in progress or its
// file can still be downloaded, and the route in the OpenAPI document.
import { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Either, TestClock } from "effect"
import { ExportSettings } from "../../../src/application/ExportSettings.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import { JobFailure, transition } from "../../../src/domain/ExportJob.js"
import { ExportJobId } from "../../../src/domain/Identifiers.js"
import { apiTestLayer, tokenFor } from "../../support/ApiHarness.js"
import { alice, bob, drainQueue, storedJob } from "../../support/Fixtures.js"
import { expectApiError, EXPORTS_PATH, getRaw, postExport, send } from "./HttpSupport.js"

const body = { reportType: "orders", format: "csv", dateFrom: "2024-01-01", dateTo: "2024-02-29", status: "paid" }

const retry = (jobId: string, token: string, headers: Record<string, string> = {}) =>
  send(
    HttpClientRequest.post(`${EXPORTS_PATH}/${jobId}/retry`).pipe(
      HttpClientRequest.bearerToken(token),
      HttpClientRequest.setHeaders(headers)
    )
  )

/** Alice's export of `body`, failed as a worker would have failed it. */
const failedExport = (token: string) =>
  Effect.gen(function*() {
    const jobId = ExportJobId.make(String((((yield* postExport(token, body)).json) as { jobId: string }).jobId))
    const job = yield* storedJob(jobId)
    const failure = new JobFailure({ reason: "QueryFailed", userMessage: "We could not read it.", retryable: true })
    yield* (yield* JobStore).update(
      Either.getOrThrow(transition(job, { _tag: "Failed", at: yield* DateTime.now, failure })),
      job.revision
    )
    return jobId
  })

describe("HTTP API: export again", () => {
  it.effect("a failed export: 202 with a new job, its Location, and the first one's report and parameters", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const failed = yield* failedExport(token)
      const response = yield* retry(failed, token)
      expect(response.status, response.text).toBe(202)
      const accepted = response.json as { jobId: string; status: string; statusUrl: string }
      expect(accepted.jobId).not.toBe(failed)
      expect(accepted).toStrictEqual({
        jobId: accepted.jobId,
        status: "queued",
        statusUrl: `${EXPORTS_PATH}/${accepted.jobId}`
      })
      expect(response.headers["location"]).toBe(accepted.statusUrl)

      const first = (yield* getRaw(`${EXPORTS_PATH}/${failed}`, token)).json as Record<string, unknown>
      const again = (yield* getRaw(accepted.statusUrl, token)).json as Record<string, unknown>
      expect([again["reportType"], again["format"], again["params"]]).toStrictEqual([
        first["reportType"],
        first["format"],
        first["params"]
      ])
      expect(again["params"]).toMatchObject({ dateFrom: "2024-01-01", dateTo: "2024-02-29", status: "paid" })

      // The same Idempotency-Key answers with the same job, as on a first request.
      const keyed = yield* retry(failed, token, { "idempotency-key": "again-42" })
      const repeated = yield* retry(failed, token, { "idempotency-key": "again-42" })
      expect((repeated.json as { jobId: string }).jobId).toBe((keyed.json as { jobId: string }).jobId)
      expectApiError(yield* retry(failed, token, { "idempotency-key": "bad key" }), 400, "invalid_request")
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("another owner's job is a 404, as on its status, and starts nothing", () =>
    Effect.gen(function*() {
      const failed = yield* failedExport(yield* tokenFor(alice))
      const bobToken = yield* tokenFor(bob)
      expectApiError(yield* retry(failed, bobToken), 404, "export_not_found")
      expectApiError(yield* retry("not-a-job-id", bobToken), 404, "export_not_found")
      expect((yield* getRaw(EXPORTS_PATH, bobToken)).json).toStrictEqual({ items: [] })
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("409 export_not_retryable while in progress or downloadable; 202 once the file has expired", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice, { ttl: Duration.days(3) })
      const jobId = String(((yield* postExport(token, body)).json as { jobId: string }).jobId)
      const queued = expectApiError(yield* retry(jobId, token), 409, "export_not_retryable")
      expect(queued.error.message).toBe(
        "This export is still in progress. It can be exported again once it has finished."
      )

      yield* drainQueue
      const downloadable = expectApiError(yield* retry(jobId, token), 409, "export_not_retryable")
      expect(downloadable.error.message).toMatch(/^This export can still be downloaded, until \d{4}-\d\d-\d\dT/)

      yield* TestClock.adjust(Duration.sum((yield* ExportSettings).linkTtl, Duration.seconds(1)))
      const expired = yield* retry(jobId, token)
      expect(expired.status, expired.text).toBe(202)
      expect((expired.json as { jobId: string }).jobId).not.toBe(jobId)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("is in the OpenAPI document: bearer security, 202 with ExportAccepted, and the error statuses", () =>
    Effect.gen(function*() {
      const document = (yield* getRaw("/openapi.json")).json as {
        paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>
      }
      const operation = document.paths["/api/v1/reports/exports/{jobId}/retry"]?.["post"]
      expect(Object.keys(operation?.responses ?? {})).toEqual(
        expect.arrayContaining(["202", "400", "401", "404", "409", "503"])
      )
      expect(JSON.stringify(operation?.responses["202"])).toContain("ExportAccepted")
      expect(JSON.stringify(operation?.responses["409"])).toContain("Conflict")
      expect(operation?.security).toHaveLength(1)
    }).pipe(Effect.provide(apiTestLayer())))
})

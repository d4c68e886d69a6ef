// The tenant limits at the API (ADR 45): past a user's or a merchant's cap of exports in progress, both routes that
// start one answer 429 too_many_exports with Retry-After and details naming the limit, in the one error shape and as
// the OpenAPI document declares; an accepted request repeated (same Idempotency-Key, or the same export in progress)
// still answers its 202; a cancelled export gives its slot back.
import { OpenApi } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ExportApi } from "../../../src/adapters/http/Api.js"
import { ExportSettings } from "../../../src/application/ExportSettings.js"
import { problemOf } from "../../../web/src/api/ApiProblem.js"
import { apiTestLayer, clientFor, tokenFor } from "../../support/ApiHarness.js"
import { callerOf } from "../../support/Fixtures.js"
import { expectError, EXPORTS_PATH, issuesOf, ordersBody, postEmpty, postExport } from "./HttpSupport.js"

const limited = (exportsPerUser: number, exportsPerMerchant: number) =>
  apiTestLayer(50, {
    settings: { limits: { ...ExportSettings.defaults.limits, exportsPerUser, exportsPerMerchant } }
  })

/** Distinct exports: each month of 2024 is another request, never the same export in progress. */
const monthBody = (month: number) => {
  const from = `2024-${String(month).padStart(2, "0")}-01`
  return ordersBody(from, `2024-${String(month).padStart(2, "0")}-28`)
}

describe("tenant limits on exports in progress", () => {
  it.effect("past the user's cap: 429 too_many_exports with Retry-After and the limit named; repeats still 202", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(callerOf("alice", "m-acme"))
      const first = yield* postExport(token, monthBody(1), { "idempotency-key": "january" })
      expect(first.status).toBe(202)
      expect((yield* postExport(token, monthBody(2))).status).toBe(202)

      const refused = yield* postExport(token, monthBody(3))
      const body = expectError(refused, "too_many_exports")
      expect(refused.headers["retry-after"]).toBe("30")
      expect(body.error.message).toBe(
        "You already have 2 exports queued or running, the most one user may have at once. Wait for one to " +
          "finish, or cancel one, then try again."
      )
      expect(issuesOf(body)).toStrictEqual([{ field: "exportsPerUser", rule: "limit" }])

      // An accepted request, repeated, is answered as it was: with its key, and as the same export in progress.
      const repeated = yield* postExport(token, monthBody(1), { "idempotency-key": "january" })
      expect(repeated.status).toBe(202)
      expect(repeated.json).toStrictEqual(first.json)
      const same = yield* postExport(token, monthBody(1))
      expect(same.status).toBe(202)
      expect(same.json).toStrictEqual(first.json)
    }).pipe(Effect.provide(limited(2, 10))))

  it.effect("past the merchant's cap, every user of it is refused naming the merchant's limit; others are not", () =>
    Effect.gen(function*() {
      const alice = yield* tokenFor(callerOf("alice", "m-acme"))
      const bob = yield* tokenFor(callerOf("bob", "m-acme"))
      const carol = yield* tokenFor(callerOf("carol", "m-globex"))
      expect((yield* postExport(alice, monthBody(1))).status).toBe(202)
      expect((yield* postExport(bob, monthBody(1))).status).toBe(202)
      expect((yield* postExport(alice, monthBody(2))).status).toBe(202)
      const refused = yield* postExport(bob, monthBody(2))
      const body = expectError(refused, "too_many_exports")
      expect(body.error.message).toContain("already has 3 exports queued or running, the most one merchant may have")
      expect(issuesOf(body)).toStrictEqual([{ field: "exportsPerMerchant", rule: "limit" }])
      expect(refused.headers["retry-after"]).toBe("30")
      expect((yield* postExport(carol, monthBody(1))).status).toBe(202)
    }).pipe(Effect.provide(limited(5, 3))))

  it.effect("a cancelled export gives its slot back; export again is refused while the user is at the cap", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(callerOf("alice", "m-acme"))
      const { jobId } = (yield* postExport(token, monthBody(1))).json as { jobId: string }
      expectError(yield* postExport(token, monthBody(2)), "too_many_exports")
      expect((yield* postEmpty(`${EXPORTS_PATH}/${jobId}/cancel`, token)).status).toBe(200)
      expect((yield* postExport(token, monthBody(2))).status).toBe(202)
      const again = yield* postEmpty(`${EXPORTS_PATH}/${jobId}/retry`, token)
      expectError(again, "too_many_exports")
      expect(again.headers["retry-after"]).toBe("30")
    }).pipe(Effect.provide(limited(1, 10))))

  it("the OpenAPI document declares the 429 on both routes that start an export", () => {
    const paths = OpenApi.fromApi(ExportApi).paths
    const declared = (path: string) => paths[path]?.post?.responses["429"]?.description
    expect(declared("/api/v1/reports/export")).toBeDefined()
    expect(declared("/api/v1/reports/exports/{jobId}/retry")).toBeDefined()
  })
})

describe("a 429 in the web app's words", () => {
  it.effect("the typed client the web app uses reads the 429 as the API's message, not a bare status", () =>
    Effect.gen(function*() {
      const api = yield* clientFor(callerOf("alice", "m-acme"))
      yield* api.exports.requestExport({ payload: monthBody(1), headers: {} })
      const error = yield* Effect.flip(api.exports.requestExport({ payload: monthBody(2), headers: {} }))
      const problem = problemOf(error)
      expect(problem.code).toBe("too_many_exports")
      expect(problem.message).toMatch(
        /^You already have 1 export queued or running, the most one user may have at once\./
      )
    }).pipe(Effect.provide(limited(1, 10))))
})

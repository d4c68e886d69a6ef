// Exact statuses, the headers every response carries (x-request-id, WWW-Authenticate, Retry-After), the body of
// an unknown route, a chunked body past the limit and a repeated query parameter.
import { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Stream, TestClock } from "effect"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import { apiTestLayer, tokenFor } from "../../support/ApiHarness.js"
import { alice, bob, drainQueue } from "../../support/Fixtures.js"
import { expectApiError, getRaw, ordersBody, postEmpty, postExport, send } from "./HttpSupport.js"
import type { RawResponse } from "./HttpSupport.js"

const EXPORTS = "/api/v1/reports/exports"

/** Bug 2: the x-request-id header is there and equals the body's requestId. */
const expectRequestIdHeader = (response: RawResponse) => {
  expect(response.headers["x-request-id"]).toBeDefined()
  expect((response.json as { requestId: string }).requestId).toBe(response.headers["x-request-id"])
}

describe("exact statuses and the headers every response carries", () => {
  it.effect("401 with WWW-Authenticate for a missing token", () =>
    Effect.gen(function*() {
      const response = yield* getRaw(EXPORTS)
      expectApiError(response, 401, "unauthorized")
      expect(response.headers["www-authenticate"]).toMatch(/^Bearer /)
      expectRequestIdHeader(response)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("401 token_expired with WWW-Authenticate past exp + 30 s", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice, { ttl: Duration.minutes(1) })
      yield* TestClock.adjust(Duration.seconds(91))
      const response = yield* getRaw(EXPORTS, token)
      expectApiError(response, 401, "token_expired")
      expect(response.headers["www-authenticate"]).toMatch(/^Bearer /)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("415 for text/plain and for no content type; 413 for a 20 KB body", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const text = yield* send(
        HttpClientRequest.post("/api/v1/reports/export").pipe(
          HttpClientRequest.bearerToken(token),
          HttpClientRequest.bodyText(JSON.stringify(ordersBody()), "text/plain")
        )
      )
      expectApiError(text, 415, "unsupported_media_type")
      const none = yield* send(
        HttpClientRequest.post("/api/v1/reports/export").pipe(HttpClientRequest.bearerToken(token))
      )
      expectApiError(none, 415, "unsupported_media_type")
      const big = yield* postExport(token, { ...ordersBody(), padding: "x".repeat(20 * 1024) })
      expectApiError(big, 413, "payload_too_large")
      expectRequestIdHeader(big)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("409 idempotency_key_reused", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      yield* postExport(token, ordersBody(), { "idempotency-key": "k" })
      expectApiError(
        yield* postExport(token, ordersBody("2024-01-01", "2024-01-31"), { "idempotency-key": "k" }),
        409,
        "idempotency_key_reused"
      )
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("503 with Retry-After when the queue is down", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      yield* (yield* FaultInjection).set({ queue: true })
      const response = yield* postExport(token, ordersBody())
      expectApiError(response, 503, "queue_unavailable")
      expect(response.headers["retry-after"]).toBeDefined()
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("404 for another owner's job and notification; 409 not ready; 410 expired", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice, { ttl: Duration.days(2) })
      const { jobId } = (yield* postExport(token, ordersBody())).json as { jobId: string }
      expectApiError(yield* getRaw(`${EXPORTS}/${jobId}/download`, token), 409, "export_not_ready")
      yield* drainQueue
      const bobToken = yield* tokenFor(bob)
      expectApiError(yield* getRaw(`${EXPORTS}/${jobId}`, bobToken), 404, "export_not_found")
      expectApiError(yield* getRaw(`${EXPORTS}/${jobId}/download`, bobToken), 404, "export_not_found")
      expectApiError(
        yield* postEmpty(`/api/v1/notifications/${jobId}:export_succeeded/read`, bobToken),
        404,
        "notification_not_found"
      )
      yield* TestClock.adjust(Duration.hours(24))
      expectApiError(yield* getRaw(`${EXPORTS}/${jobId}/download`, token), 410, "export_expired")
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("x-request-id on a success, echoed from the client", () =>
    Effect.gen(function*() {
      const response = yield* getRaw("/health", undefined, { "x-request-id": "client-id-1" })
      expect(response.headers["x-request-id"]).toBe("client-id-1")
    }).pipe(Effect.provide(apiTestLayer())))
})

describe("what the platform would answer in its own way", () => {
  it.effect("an unknown route is a 404 in the error shape", () =>
    Effect.gen(function*() {
      const response = yield* getRaw("/api/v1/no-such-thing")
      expectApiError(response, 404, "not_found")
      expectRequestIdHeader(response)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("a chunked body over the limit, without content-length, is a 413", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const chunk = new Uint8Array(16 * 1024).fill(32)
      const response = yield* send(
        HttpClientRequest.post("/api/v1/reports/export").pipe(
          HttpClientRequest.bearerToken(token),
          HttpClientRequest.bodyStream(Stream.make(chunk, new Uint8Array([32])), { contentType: "application/json" })
        )
      )
      expectApiError(response, 413, "payload_too_large")
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("limit given twice is a 400 in the error shape naming limit", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const body = expectApiError(yield* getRaw(`${EXPORTS}?limit=1&limit=2`, token), 400, "invalid_request")
      expect(body.error.details?.map((issue) => issue.field)).toStrictEqual(["limit"])
    }).pipe(Effect.provide(apiTestLayer())))
})

describe("edges of the request", () => {
  it.effect("refuses an Authorization header in another scheme, even around a valid token", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      for (const header of [`Digest ${token}`, `xxxxxxx${token}`]) {
        const response = yield* send(
          HttpClientRequest.get("/api/v1/reports/exports").pipe(HttpClientRequest.setHeader("authorization", header))
        )
        expectApiError(response, 401, "unauthorized")
        expect(response.headers["www-authenticate"]).toMatch(/^Bearer /)
      }
      expect((yield* getRaw("/api/v1/reports/exports", token)).status).toBe(200)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("reads a body that starts with a UTF-8 byte order mark", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const response = yield* send(
        HttpClientRequest.post("/api/v1/reports/export").pipe(
          HttpClientRequest.bearerToken(token),
          HttpClientRequest.bodyText(`\uFEFF${JSON.stringify(ordersBody())}`, "application/json")
        )
      )
      expect(response.status, response.text).toBe(202)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("names the limit rule for a fractional, negative or too large top-products limit", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      for (const limit of [2.5, -1, 1001]) {
        const body = { ...ordersBody(), reportType: "top-products", limit }
        const error = expectApiError(yield* postExport(token, body), 400, "invalid_request")
        expect(error.error.details?.map(({ field, rule }) => ({ field, rule }))).toStrictEqual([{
          field: "limit",
          rule: "limit-range"
        }])
      }
    }).pipe(Effect.provide(apiTestLayer())))
})

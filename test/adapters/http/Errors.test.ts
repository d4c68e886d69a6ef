// Transport-level client mistakes (body not JSON, wrong media type, oversized body, unknown route) and the
// request id every error carries. Each is a 4xx that says what went wrong, never a 500.
import { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { MAX_BODY_BYTES } from "../../../src/adapters/http/RequestBody.js"
import { apiTestLayer, clientFor, tokenFor } from "../../support/ApiHarness.js"
import { alice } from "../../support/Fixtures.js"
import { expectApiError, expectRefused, EXPORT_PATH, EXPORTS_PATH, getRaw, ordersBody, send } from "./HttpSupport.js"

const postText = (token: string, text: string, contentType: string) =>
  send(
    HttpClientRequest.post(EXPORT_PATH).pipe(
      HttpClientRequest.bearerToken(token),
      HttpClientRequest.bodyText(text, contentType)
    )
  )

/** No export was recorded for alice. */
const nothingRecorded = Effect.gen(function*() {
  const client = yield* clientFor(alice)
  expect((yield* client.exports.listExports({ urlParams: {} })).items).toStrictEqual([])
})

describe("HTTP API: bodies that are not JSON", () => {
  for (
    const [name, text] of [
      ["an unterminated object", "{not json"],
      ["an empty body", ""],
      ["trailing garbage", "{\"reportType\":\"orders\"} x"],
      ["single quotes", "{'reportType':'orders'}"]
    ] as const
  ) {
    it.effect(`answers ${name} with 400 malformed_json`, () =>
      Effect.gen(function*() {
        const token = yield* tokenFor(alice)
        const error = expectApiError(yield* postText(token, text, "application/json"), 400, "malformed_json")
        expect(error.error.details).toBeUndefined()
        yield* nothingRecorded
      }).pipe(Effect.provide(apiTestLayer())))
  }
})

describe("HTTP API: media types", () => {
  it.effect("refuses a text/plain body as unsupported_media_type, even when it holds valid JSON", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      expectRefused(yield* postText(token, JSON.stringify(ordersBody()), "text/plain"), "unsupported_media_type")
      yield* nothingRecorded
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("refuses a form-encoded body as unsupported_media_type", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      expectRefused(
        yield* postText(token, "reportType=orders&format=csv", "application/x-www-form-urlencoded"),
        "unsupported_media_type"
      )
      yield* nothingRecorded
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("refuses a request without a content type as unsupported_media_type", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const response = yield* send(HttpClientRequest.post(EXPORT_PATH).pipe(HttpClientRequest.bearerToken(token)))
      expectRefused(response, "unsupported_media_type")
      yield* nothingRecorded
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("does not take application/json-patch+json for application/json", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      expectRefused(
        yield* postText(token, JSON.stringify(ordersBody()), "application/json-patch+json"),
        "unsupported_media_type"
      )
    }).pipe(Effect.provide(apiTestLayer())))
})

describe("HTTP API: body size", () => {
  it.effect("refuses a 20 KB body as payload_too_large, and records nothing", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const padded = JSON.stringify({ ...ordersBody(), padding: "x".repeat(20 * 1024) })
      const response = yield* postText(token, padded, "application/json")
      const error = expectRefused(response, "payload_too_large")
      expect(error.error.message).toContain(String(MAX_BODY_BYTES))
      yield* nothingRecorded
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("reads a body of exactly the limit", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const json = JSON.stringify(ordersBody())
      const atLimit = json + " ".repeat(MAX_BODY_BYTES - Buffer.byteLength(json))
      expect(Buffer.byteLength(atLimit)).toBe(MAX_BODY_BYTES)
      expect((yield* postText(token, atLimit, "application/json")).status).toBe(202)
    }).pipe(Effect.provide(apiTestLayer())))
})

describe("HTTP API: odd but well-formed JSON", () => {
  for (
    const [name, text, field] of [
      ["a __proto__ key", `{"__proto__":{"x":1},${JSON.stringify(ordersBody()).slice(1)}`, "__proto__"],
      ["a constructor key", `{"constructor":{"prototype":{}},${JSON.stringify(ordersBody()).slice(1)}`, "constructor"],
      ["timezone null", JSON.stringify({ ...ordersBody(), timezone: null }), "timezone"],
      [
        "limit 1e400",
        `${JSON.stringify({ ...ordersBody(), reportType: "top-products" }).slice(0, -1)},"limit":1e400}`,
        "limit"
      ]
    ] as const
  ) {
    it.effect(`answers ${name} with a 400 naming ${field}`, () =>
      Effect.gen(function*() {
        const token = yield* tokenFor(alice)
        const error = expectApiError(yield* postText(token, text, "application/json"), 400, "invalid_request")
        expect(error.error.details?.map((issue) => issue.field)).toStrictEqual([field])
        yield* nothingRecorded
      }).pipe(Effect.provide(apiTestLayer())))
  }

  it.effect("answers an array nested 5000 deep with a 400", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const text = "[".repeat(5000) + "]".repeat(5000)
      expectApiError(yield* postText(token, text, "application/json"), 400, "invalid_request")
    }).pipe(Effect.provide(apiTestLayer())))
})

describe("HTTP API: routes", () => {
  it.effect("answers an unknown route with 404, with or without a token", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      expect((yield* getRaw("/api/v1/no-such-thing")).status).toBe(404)
      expect((yield* getRaw("/api/v1/no-such-thing", token)).status).toBe(404)
      expect((yield* getRaw("/api/v2/reports/exports", token)).status).toBe(404)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("answers a known path with a method it does not serve with 404, not by running another endpoint", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const response = yield* send(
        HttpClientRequest.put(EXPORT_PATH).pipe(
          HttpClientRequest.bearerToken(token),
          HttpClientRequest.bodyText(JSON.stringify(ordersBody()), "application/json")
        )
      )
      expect(response.status).toBe(404)
      yield* nothingRecorded
    }).pipe(Effect.provide(apiTestLayer())))
})

describe("HTTP API: request ids in error bodies", () => {
  it.effect("gives each error its own request id", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const ids = new Set<string>()
      for (let n = 0; n < 3; n++) {
        ids.add(expectApiError(yield* postText(token, "{", "application/json"), 400, "malformed_json").requestId)
      }
      ids.add(expectRefused(yield* getRaw(EXPORTS_PATH), "unauthorized").requestId)
      expect(ids.size).toBe(4)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("uses a well-formed client x-request-id as the error's requestId", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      for (const requestId of ["trace-1234.abc_DEF", "a".repeat(64)]) {
        const invalid = yield* send(
          HttpClientRequest.post(EXPORT_PATH).pipe(
            HttpClientRequest.bearerToken(token),
            HttpClientRequest.setHeader("x-request-id", requestId),
            HttpClientRequest.bodyText("{", "application/json")
          )
        )
        expect(expectApiError(invalid, 400, "malformed_json").requestId).toBe(requestId)
        const unauthorized = yield* getRaw(EXPORTS_PATH, undefined, { "x-request-id": requestId })
        expect(expectRefused(unauthorized, "unauthorized").requestId).toBe(requestId)
      }
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("replaces a malformed client x-request-id with one of its own", () =>
    Effect.gen(function*() {
      for (const requestId of ["a".repeat(65), "has space", "semi;colon", "<script>"]) {
        const response = yield* getRaw(EXPORTS_PATH, undefined, { "x-request-id": requestId })
        const error = expectRefused(response, "unauthorized")
        expect(error.requestId).not.toBe(requestId)
        expect(error.requestId).toMatch(/^[A-Za-z0-9._-]{1,64}$/)
        expect(response.text).not.toContain(requestId)
      }
    }).pipe(Effect.provide(apiTestLayer())))
})

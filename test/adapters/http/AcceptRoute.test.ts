// The node:http accept route (ADR 0013) answers POST /api/v1/reports/export exactly as the HttpApi app does:
// the same requests go to the composed server and to the HttpApi app alone, and the answers must match in status,
// headers, body and access log, ids aside. Every other request passes through to the HttpApi app.
import { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Logger, LogLevel, Stream, TestClock } from "effect"
import * as JwtAuthentication from "../../../src/adapters/auth/JwtAuthentication.js"
import * as JwtVerifier from "../../../src/adapters/auth/JwtVerifier.js"
import * as ApiServer from "../../../src/adapters/http/ApiServer.js"
import { ReadinessChecks } from "../../../src/adapters/http/HealthHttp.js"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import { apiTestLayer, testJwtSettings, tokenFor } from "../../support/ApiHarness.js"
import { alice, testLayer } from "../../support/Fixtures.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import { loopbackServerTest } from "../../support/LoopbackServer.js"
import { EXPORT_PATH, getRaw, ordersBody, postExport, send } from "./HttpSupport.js"
import type { RawResponse } from "./HttpSupport.js"

/** The HttpApi app alone, on the platform's own Node server: what the accept route must answer like. */
const httpApiOnlyLayer = () =>
  ApiServer.layer.pipe(
    Layer.provide(JwtAuthentication.layer),
    Layer.provide(JwtVerifier.layer(testJwtSettings)),
    Layer.provide(ReadinessChecks.none),
    Layer.provideMerge(testLayer()),
    Layer.provideMerge(loopbackServerTest)
  )

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g

/** A response without what differs from run to run: ids, the date, the connection's bookkeeping. */
const normalised = (response: RawResponse) => {
  const headers = Object.fromEntries(
    Object.entries(response.headers).filter(([name]) => !["date", "keep-alive", "connection"].includes(name))
      .map(([name, value]) => [name, value.replace(UUID, "<id>")])
  )
  if (response.json !== undefined && typeof response.json === "object" && response.json !== null) {
    const requestId = (response.json as { requestId?: unknown }).requestId
    if (requestId !== undefined) expect(requestId).toBe(response.headers["x-request-id"])
  }
  return { status: response.status, headers, text: response.text.replace(UUID, "<id>") }
}

const chunkedOverLimit = (token: string) =>
  send(
    HttpClientRequest.post(EXPORT_PATH).pipe(
      HttpClientRequest.bearerToken(token),
      HttpClientRequest.bodyStream(Stream.make(new Uint8Array(16 * 1024).fill(32), new Uint8Array([32])), {
        contentType: "application/json"
      })
    )
  )

/** Every kind of answer the endpoint gives, in one sequence, on `server`, with the access log lines it wrote. */
const scenario = <E>(server: Layer.Layer<Layer.Layer.Success<ReturnType<typeof apiTestLayer>>, E>) => {
  const logs = makeLogCollector()
  return requests.pipe(
    Effect.provide(server),
    // Outside the server's layer, so that the server's request fibers log through the capture too.
    Effect.provide(logs.replacing),
    Logger.withMinimumLogLevel(LogLevel.All),
    Effect.map((responses) => ({
      responses: responses.map(normalised),
      log: logs.lines
        .map((line) =>
          JSON.stringify([line.message, Object.keys(line.annotations).sort()]).replace(/"ms":\d+/, "\"ms\":0")
        )
        .filter((line) => line.startsWith("[[\"http\""))
    }))
  )
}

const requests = Effect.gen(function*() {
  const token = yield* tokenFor(alice)
  const expiring = yield* tokenFor(alice, { ttl: Duration.minutes(1) })
  return yield* Effect.all([
    postExport(token, ordersBody()),
    postExport(token, ordersBody()), // the same export while it is queued: the same job
    postExport(token, { ...ordersBody(), dateTo: "2023-01-01", extra: 1 }),
    postExport(token, { reportType: "nope", format: "xlsx" }),
    send(
      HttpClientRequest.post(EXPORT_PATH).pipe(
        HttpClientRequest.bearerToken(token),
        HttpClientRequest.bodyText("{not json", "application/json")
      )
    ),
    send(
      HttpClientRequest.post(EXPORT_PATH).pipe(
        HttpClientRequest.bearerToken(token),
        HttpClientRequest.bodyText(JSON.stringify(ordersBody()), "text/plain")
      )
    ),
    postExport(token, { ...ordersBody(), padding: "x".repeat(20 * 1024) }),
    chunkedOverLimit(token),
    postExport("", ordersBody()),
    send(
      HttpClientRequest.post(EXPORT_PATH).pipe(
        HttpClientRequest.setHeader("authorization", "Basic YTpi"),
        HttpClientRequest.bodyText(JSON.stringify(ordersBody()), "application/json")
      )
    ),
    postExport(token, ordersBody("2024-02-01", "2024-02-02"), { "idempotency-key": "k-1" }),
    postExport(token, ordersBody("2024-02-01", "2024-02-02"), { "idempotency-key": "k-1" }),
    postExport(token, ordersBody("2024-02-01", "2024-02-03"), { "idempotency-key": "k-1" }),
    postExport(token, ordersBody(), { "idempotency-key": " " }),
    postExport(token, ordersBody("2024-03-01", "2024-03-01"), { "x-request-id": "client-chosen.id_1" }),
    Effect.zipRight(
      Effect.flatMap(FaultInjection, (faults) => faults.set({ queue: true })),
      postExport(token, ordersBody("2024-03-02", "2024-03-02"))
    ),
    Effect.zipRight(
      Effect.flatMap(FaultInjection, (faults) => faults.clear),
      Effect.zipRight(TestClock.adjust(Duration.minutes(2)), postExport(expiring, ordersBody()))
    ),
    send(
      HttpClientRequest.post(`${EXPORT_PATH}?source=test`).pipe(
        HttpClientRequest.bearerToken(token),
        HttpClientRequest.bodyText(JSON.stringify(ordersBody("2024-03-03", "2024-03-03")), "application/json")
      )
    ),
    getRaw(EXPORT_PATH, token),
    // The router takes a trailing slash for the same route: the HttpApi app answers it (without a body, a 415).
    send(HttpClientRequest.post(`${EXPORT_PATH}/`).pipe(HttpClientRequest.bearerToken(token)))
  ], { concurrency: 1 })
})

describe("the node:http accept route", () => {
  it.effect("answers every kind of request as the HttpApi app alone does, access log included", () =>
    Effect.gen(function*() {
      const composed = yield* scenario(apiTestLayer())
      const alone = yield* scenario(httpApiOnlyLayer())
      expect(composed.responses.map((response) => response.status)).toStrictEqual(
        [202, 202, 400, 400, 400, 415, 413, 413, 401, 401, 202, 202, 409, 400, 202, 503, 401, 202, 404, 415]
      )
      expect(composed.responses).toStrictEqual(alone.responses)
      expect(composed.log.length).toBe(composed.responses.length)
      expect(composed.log).toStrictEqual(alone.log)
    }))

  it.effect("logs each request's method, path, status and duration under its request id", () =>
    Effect.gen(function*() {
      const composed = yield* scenario(apiTestLayer())
      expect(composed.log[0]).toBe(
        JSON.stringify([["http", { method: "POST", path: EXPORT_PATH, status: 202, ms: 0 }], ["requestId"]])
      )
    }))
})

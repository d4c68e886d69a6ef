// The spans the node:http accept route records (ADR 0013): one `http.server POST` server span per request, its
// parent taken from the trace headers, with method, path and status; the use case's `Exports.request` under it;
// nothing of one request left on the next. And the log lines: the job's id on the use case's lines only, the
// request's id on the access log only.
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { apiTestLayer, tokenFor } from "../../support/ApiHarness.js"
import { alice } from "../../support/Fixtures.js"
import { observed } from "../../support/Observed.js"
import { outcomeOf, parentIdOf } from "../../support/RecordingTracer.js"
import { EXPORT_PATH, ordersBody, postExport, send } from "./HttpSupport.js"

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
const CLIENT_SPAN_ID = "b7ad6b7169203331"

const observe = <A, E, R>(requests: Effect.Effect<A, E, R>) =>
  requests.pipe(
    // The test's client sends only the trace headers a test sets.
    Effect.locally(HttpClient.currentTracerPropagation, false),
    Effect.provide(apiTestLayer()),
    // The tracer and the logger outside the server's layer, so that the route's fibers (run on the layer's
    // runtime) use them too.
    observed,
    Effect.map(({ lines, result, spans }) => ({
      responses: result,
      spans,
      lines: lines.map((line) => ({ message: line.message, annotations: Object.keys(line.annotations).sort() }))
    }))
  )

describe("the accept route's spans and log annotations", () => {
  it.effect("records http.server POST, parented by the trace headers, over Exports.request", () =>
    Effect.gen(function*() {
      const { lines, responses, spans } = yield* observe(Effect.gen(function*() {
        const token = yield* tokenFor(alice)
        return [
          yield* postExport(token, ordersBody(), { traceparent: `00-${TRACE_ID}-${CLIENT_SPAN_ID}-01` }),
          yield* postExport(token, { reportType: "nope" }),
          yield* send(HttpClientRequest.post(EXPORT_PATH).pipe(HttpClientRequest.bodyText("{}", "application/json")))
        ]
      }))
      expect(responses.map((response) => response.status)).toStrictEqual([202, 400, 401])
      const server = spans.filter((span) => span.name === "http.server POST")
      expect(server.map((span) => ({
        kind: span.kind,
        attributes: Object.fromEntries(span.attributes),
        outcome: outcomeOf(span)
      }))).toStrictEqual([202, 400, 401].map((status) => ({
        kind: "server",
        attributes: { "http.request.method": "POST", "url.path": EXPORT_PATH, "http.response.status_code": status },
        outcome: "success"
      })))
      // The first continues the client's trace; the others start their own, not the previous request's.
      expect(server[0]!.traceId).toBe(TRACE_ID)
      expect(parentIdOf(server[0]!)).toBe(CLIENT_SPAN_ID)
      expect(server.slice(1).map((span) => span.parent._tag)).toStrictEqual(["None", "None"])
      const requests = spans.filter((span) => span.name === "Exports.request")
      expect(requests.map((span) => [parentIdOf(span), span.traceId, outcomeOf(span)])).toStrictEqual([
        [server[0]!.spanId, TRACE_ID, "success"],
        [server[1]!.spanId, server[1]!.traceId, "failure"]
      ])
      expect(lines.map((line) => [line.message, line.annotations])).toStrictEqual([
        [["export accepted", { reportType: "orders" }], ["jobId"]],
        [["http", { method: "POST", path: EXPORT_PATH, status: 202, ms: 0 }], ["requestId"]],
        [["http", { method: "POST", path: EXPORT_PATH, status: 400, ms: 0 }], ["requestId"]],
        [["bearer token rejected", { reason: "missing" }], []],
        [["http", { method: "POST", path: EXPORT_PATH, status: 401, ms: 0 }], ["requestId"]]
      ])
    }))
})

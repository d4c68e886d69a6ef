// EMBEDDED_FAULTS (ADR 37): the setting read and checked, the faulty source over another one, and the `npm start`
// composition with `query-timeout`, whose exports fail as a query timeout fails them (the notice in words, export
// again failing the same way) while previews and readiness go on, and with `preview-timeout`, whose previews are 504s.
import { assert, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, Schema, Stream } from "effect"
import { join } from "node:path"
import * as FaultyReportSource from "../../../src/adapters/faults/FaultyReportSource.js"
import { ReportSource } from "../../../src/application/ports/ReportSource.js"
import { makeExportJobId, MerchantId } from "../../../src/domain/Identifiers.js"
import { ReportRequest } from "../../../src/domain/Reports.js"
import { embeddedFaultsConfig } from "../../../src/runtimes/server/EmbeddedConfig.js"
import { embeddedServerIn } from "../../support/EmbeddedInProcess.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"
import { testLayer } from "../../support/Fixtures.js"
import { eventually } from "../../support/NodeStack.js"

const faultsFrom = (value: string | undefined) =>
  embeddedFaultsConfig.pipe(
    Effect.withConfigProvider(
      ConfigProvider.fromMap(new Map(value === undefined ? [] : [["EMBEDDED_FAULTS", value]]))
    ),
    Effect.map((faults) => [...faults].sort()),
    Effect.mapError(String)
  )

const query = {
  jobId: makeExportJobId(Date.now(), new Uint8Array(10)),
  merchantId: MerchantId.make("m-acme"),
  report: Schema.decodeUnknownSync(ReportRequest)({
    _tag: "orders",
    params: { dateFrom: "2024-01-01", dateTo: "2024-01-31" }
  }),
  timeout: Duration.minutes(10)
}

describe("EMBEDDED_FAULTS", () => {
  it.effect("none unless set; a comma-separated list of known faults; anything else stops start-up, named", () =>
    Effect.gen(function*() {
      expect(yield* faultsFrom(undefined)).toStrictEqual([])
      expect(yield* faultsFrom("")).toStrictEqual([])
      expect(yield* faultsFrom("query-timeout")).toStrictEqual(["query-timeout"])
      expect(yield* faultsFrom(" preview-timeout , query-timeout ")).toStrictEqual(["preview-timeout", "query-timeout"])
      for (const bad of ["slow-disk", "query-timeout,nope", "QUERY-TIMEOUT"]) {
        const error = yield* Effect.flip(faultsFrom(bad))
        expect(error, bad).toContain("EMBEDDED_FAULTS")
        expect(error, bad).toContain(JSON.stringify(bad.split(",").at(-1)))
        expect(error, bad).toContain("query-timeout or preview-timeout")
      }
    }))

  it.effect("query-timeout: an export's rows and CSV fail as a query past its timeout, before any row", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      for (const read of [Stream.runDrain(source.rows(query)), Stream.runDrain(source.csv(query))]) {
        const error = yield* Effect.flip(read)
        assert(error._tag === "QueryTimeout")
        expect([error.jobId, error.afterMillis, error.rowsBeforeTimeout]).toStrictEqual([query.jobId, 600_000, 0])
      }
      // A preview is not an export's query: it still reads.
      expect((yield* source.preview({ ...query, limit: 3 })).length).toBe(3)
    }).pipe(
      Effect.provide(FaultyReportSource.layer(new Set(["query-timeout"])).pipe(Layer.provide(testLayer(50))))
    ))

  it.effect("preview-timeout: a preview fails as one past its timeout; exports read", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      const error = yield* Effect.flip(source.preview({ ...query, timeout: Duration.seconds(5), limit: 3 }))
      assert(error._tag === "QueryTimeout")
      expect(error.afterMillis).toBe(5_000)
      expect((yield* Stream.runCollect(Stream.take(source.rows(query), 2))).length).toBe(2)
    }).pipe(
      Effect.provide(FaultyReportSource.layer(new Set(["preview-timeout"])).pipe(Layer.provide(testLayer(50))))
    ))
})

interface View {
  readonly jobId: string
  readonly status: string
  readonly failure?: { readonly reason: string; readonly message: string; readonly retryable: boolean }
}

const call = <A>(url: string, init: RequestInit = {}) =>
  Effect.promise(() => fetch(url, init).then(async (r) => ({ status: r.status, body: (await r.json()) as A })))

describe("npm start composition with EMBEDDED_FAULTS", () => {
  const signIn = (base: string) =>
    Effect.map(
      call<{ token: string }>(`${base}/api/dev/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user: "faulty", merchant: "m-acme", email: "faulty@example.com" })
      }),
      ({ body }) => ({ authorization: `Bearer ${body.token}` })
    )

  const waitForEnd = (base: string, auth: Record<string, string>, jobId: string) =>
    Effect.gen(function*() {
      let view = (yield* call<View>(`${base}/api/v1/reports/exports/${jobId}`, { headers: auth })).body
      for (let i = 0; i < 200 && (view.status === "queued" || view.status === "running"); i++) {
        yield* Effect.sleep("50 millis")
        view = (yield* call<View>(`${base}/api/v1/reports/exports/${jobId}`, { headers: auth })).body
      }
      return view
    })

  it.scopedLive(
    "query-timeout: the export fails as a timeout does, the user is told in words, again fails alike",
    () =>
      Effect.gen(function*() {
        const dataDir = join(yield* temporaryDataDir("ade-faults-"), "data")
        const { base } = yield* embeddedServerIn(dataDir, 1000, { faults: new Set(["query-timeout"]) })
        const auth = yield* signIn(base)
        const accepted = yield* call<{ jobId: string }>(`${base}/api/v1/reports/export`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ reportType: "orders", format: "csv", dateFrom: "2025-01-01", dateTo: "2025-01-31" })
        })
        expect(accepted.status).toBe(202)
        const failed = yield* waitForEnd(base, auth, accepted.body.jobId)
        expect(failed.status).toBe("failed")
        expect(failed.failure).toStrictEqual({
          reason: "QueryTimeout",
          message:
            "The report took too long to prepare. Try a shorter date range, or split the export into several parts.",
          retryable: false
        })
        // The notice is delivered just after the job is recorded Failed, so the failed status can come first.
        const noticeOf = Effect.map(
          call<{ items: ReadonlyArray<{ jobId: string; kind: string; body: string }> }>(
            `${base}/api/v1/notifications`,
            { headers: auth }
          ),
          (notices) => notices.body.items.find((item) => item.jobId === accepted.body.jobId)
        )
        const notice = yield* eventually(noticeOf, (found) => found !== undefined)
        expect(notice?.kind).toBe("export_failed")
        expect(notice?.body).toContain("took too long")

        // "Try again" exports again, and fails the same way while the switch is on.
        const again = yield* call<{ jobId: string }>(`${base}/api/v1/reports/exports/${accepted.body.jobId}/retry`, {
          method: "POST",
          headers: auth
        })
        expect(again.status).toBe(202)
        expect(again.body.jobId).not.toBe(accepted.body.jobId)
        expect((yield* waitForEnd(base, auth, again.body.jobId)).failure?.reason).toBe("QueryTimeout")

        // Previews and readiness are untouched.
        const preview = yield* call<{ rows: ReadonlyArray<unknown> }>(
          `${base}/api/v1/reports/orders/preview?dateFrom=2025-01-01&dateTo=2025-01-31`,
          { headers: auth }
        )
        expect(preview.status).toBe(200)
        expect(preview.body.rows.length).toBeGreaterThan(0)
        expect((yield* call(`${base}/ready`)).status).toBe(200)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive("preview-timeout: every preview is a 504 preview_timeout", () =>
    Effect.gen(function*() {
      const dataDir = join(yield* temporaryDataDir("ade-faults-preview-"), "data")
      const { base } = yield* embeddedServerIn(dataDir, 1000, { faults: new Set(["preview-timeout"]) })
      const auth = yield* signIn(base)
      const preview = yield* call<{ error: { code: string } }>(
        `${base}/api/v1/reports/sales-trend/preview?dateFrom=2025-01-01&dateTo=2025-01-31`,
        { headers: auth }
      )
      expect(preview.status).toBe(504)
      expect(preview.body.error.code).toBe("preview_timeout")
    }), { timeout: 60_000 })
})

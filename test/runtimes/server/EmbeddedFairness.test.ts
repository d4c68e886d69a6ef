// Fair to every tenant on the `npm start` composition (chdb, SQLite, one worker), over HTTP (ADR 45): one merchant's
// users flood the API with exports, reach their merchant's cap and are answered 429; meanwhile another merchant's
// export is accepted and runs to its end, behind at most the flood's capped few.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect } from "effect"
import { join } from "node:path"
import { signDevToken } from "../../../src/adapters/auth/JwtVerifier.js"
import { localSecret } from "../../../src/runtimes/server/EmbeddedConfig.js"
import { embeddedServerIn } from "../../support/EmbeddedInProcess.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"

const PER_USER = 2
const PER_MERCHANT = 3
const FLOOD_USERS = 4
const FLOOD_REQUESTS_PER_USER = 10

const limits = ConfigProvider.fromMap(
  new Map([["EXPORTS_PER_USER", String(PER_USER)], ["EXPORTS_PER_MERCHANT", String(PER_MERCHANT)]])
).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv()))

describe("fairness between tenants on the npm start composition (chdb)", () => {
  it.scopedLive(
    "a merchant's flood is refused at its cap; another merchant's export is accepted and done promptly",
    () =>
      Effect.gen(function*() {
        const dataDir = join(yield* temporaryDataDir("ade-fair-"), "data")
        const { base } = yield* embeddedServerIn(dataDir, 200_000).pipe(Effect.withConfigProvider(limits))
        const secret = yield* localSecret(dataDir, "jwt-secret")
        const tokenOf = (sub: string, merchantId: string) =>
          Effect.promise(() =>
            signDevToken({ secret, sub, merchantId, email: `${sub}@example.com`, ttl: Duration.hours(1) })
          )
        const call = (token: string, method: string, path: string, body?: unknown) =>
          Effect.promise(() =>
            fetch(`${base}${path}`, {
              method,
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              ...(body === undefined ? {} : { body: JSON.stringify(body) })
            }).then(async (response) => ({
              status: response.status,
              retryAfter: response.headers.get("retry-after"),
              json: await response.json() as Record<string, unknown>
            }))
          )
        /** Each day of 2025 is another export, never the same one in progress. */
        const exportOf = (token: string, day: number) =>
          call(token, "POST", "/api/v1/reports/export", {
            reportType: "orders",
            format: "csv",
            dateFrom: "2025-01-01",
            dateTo: new Date(Date.UTC(2025, 0, 2 + day)).toISOString().slice(0, 10)
          })

        const flooders = yield* Effect.forEach(
          Array.from({ length: FLOOD_USERS }, (_, i) => `flood-${i}`),
          (sub) => tokenOf(sub, "m-acme")
        )
        const flood = yield* Effect.all(
          flooders.flatMap((token, user) =>
            Array.from({ length: FLOOD_REQUESTS_PER_USER }, (_, n) => exportOf(token, user * 50 + n))
          ),
          { concurrency: 8 }
        )
        const accepted = flood.filter((response) => response.status === 202)
        const refused = flood.filter((response) => response.status === 429)
        // No more than the merchant's cap is ever in progress, so at most that many (and, as exports finish meanwhile,
        // perhaps a few more over the whole flood) are accepted; every other request is a 429 in words.
        expect(accepted.length).toBeGreaterThanOrEqual(PER_MERCHANT)
        expect(accepted.length + refused.length).toBe(flood.length)
        expect(refused.length).toBeGreaterThan(flood.length / 2)
        for (const response of refused) {
          expect(response.retryAfter).toBe("30")
          expect((response.json["error"] as { code: string }).code).toBe("too_many_exports")
        }

        // Another merchant's export is accepted at once, and queued behind no more than the flood's cap.
        const other = yield* tokenOf("other-user", "m-globex")
        const started = Date.now()
        const mine = yield* exportOf(other, 0)
        expect(mine.status).toBe(202)
        const jobId = mine.json["jobId"] as string
        let status = "queued"
        while (status !== "succeeded" && status !== "failed" && Date.now() - started < 30_000) {
          yield* Effect.sleep("100 millis")
          status = (yield* call(other, "GET", `/api/v1/reports/exports/${jobId}`)).json["status"] as string
        }
        expect(status).toBe("succeeded")
        // Behind at most the flood's capped few exports of a small demo, never its 40 requests.
        expect(Date.now() - started, "the other merchant's export finished promptly").toBeLessThan(15_000)
      }),
    120_000
  )
})

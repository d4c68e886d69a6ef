// Boots the `npm start` composition on a free port over a temporary data directory and runs an export end to
// end over HTTP against chdb: 202, the worker, the file, the signed link, the email and the in-app notice.
import { describe, expect, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import { Duration, Effect, Layer, Schema } from "effect"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { signDevToken } from "../../../src/adapters/auth/JwtVerifier.js"
import { ChdbEngine } from "../../../src/adapters/chdb/ChdbEngine.js"
import { encodeRow } from "../../../src/domain/Csv.js"
import { MerchantId } from "../../../src/domain/Identifiers.js"
import { Orders, queryParametersOf, ReportRequest } from "../../../src/domain/Reports.js"
import type { Cell } from "../../../src/domain/Reports.js"
import { localSecret } from "../../../src/runtimes/server/EmbeddedConfig.js"
import { EmbeddedServerLive } from "../../../src/runtimes/server/EmbeddedServer.js"

const freePort = () =>
  Effect.async<number>((resume) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  })

const withDataDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "ade-embedded-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

describe("npm start composition", () => {
  it.scopedLive(
    "exports over HTTP against chdb, and the downloaded CSV holds exactly the rows the query gives",
    () =>
      Effect.gen(function*() {
        const dataDir = yield* withDataDir
        const port = yield* freePort()
        const base = `http://127.0.0.1:${port}`
        const context = yield* Layer.build(EmbeddedServerLive({
          host: "127.0.0.1",
          port,
          dataDir,
          publicBaseUrl: base,
          workerConcurrency: 1,
          shutdownGrace: Duration.seconds(5),
          demoRows: 20_000
        }))
        const token = yield* Effect.promise(() =>
          Effect.runPromise(localSecret(dataDir, "jwt-secret")).then((secret) =>
            signDevToken({
              secret,
              sub: "e2e-user",
              merchantId: "m-acme",
              email: "e2e@example.com",
              ttl: Duration.hours(1)
            })
          )
        )
        const auth = { authorization: `Bearer ${token}` }
        const ready = yield* Effect.promise(() =>
          fetch(`${base}/ready`).then(async (r) => ({ status: r.status, body: await r.json() }))
        )
        expect(ready).toStrictEqual({ status: 200, body: { status: "ready", checks: { clickhouse: "ok" } } })
        const body = {
          reportType: "orders",
          format: "csv",
          dateFrom: "2025-01-01",
          dateTo: "2025-06-30",
          timezone: "Europe/Paris"
        }

        const accepted = yield* Effect.promise(() =>
          fetch(`${base}/api/v1/reports/export`, {
            method: "POST",
            headers: { ...auth, "content-type": "application/json" },
            body: JSON.stringify(body)
          })
        )
        expect(accepted.status).toBe(202)
        const { jobId, statusUrl } = (yield* Effect.promise(() => accepted.json())) as {
          jobId: string
          statusUrl: string
        }
        expect(accepted.headers.get("location")).toBe(statusUrl)

        const poll = Effect.promise(() =>
          fetch(`${base}${statusUrl}`, { headers: auth }).then((r) =>
            r.json() as Promise<{ status: string; file?: { rowCount: number } }>
          )
        )
        let status = yield* poll
        for (let i = 0; i < 300 && (status.status === "queued" || status.status === "running"); i++) {
          yield* Effect.sleep("100 millis")
          status = yield* poll
        }
        expect(status.status).toBe("succeeded")

        const download = yield* Effect.promise(() => fetch(`${base}${statusUrl}/download`, { headers: auth }))
        expect(download.status).toBe(200)
        expect(download.headers.get("content-type")).toBe("text/csv; charset=utf-8")
        const csv = yield* Effect.promise(() => download.text())
        const [header, ...rows]: Array<Array<string>> = parse(csv)
        expect(header).toStrictEqual(Orders.columns.map((c) => c.header))
        expect(rows.length).toBe(status.file?.rowCount)
        expect(rows.length).toBeGreaterThan(1000)

        // The same report queried directly, apart from the export's streaming path.
        const report = Schema.decodeUnknownSync(ReportRequest)({ _tag: "orders", params: body })
        const direct = yield* Effect.flatMap(
          ChdbEngine,
          (engine) => engine.query(Orders.sql, queryParametersOf(MerchantId.make("m-acme"), report))
        ).pipe(Effect.provide(context))
        expect(rows).toStrictEqual(
          direct.map((row) => {
            const [cells]: Array<Array<string>> = parse(encodeRow(row as ReadonlyArray<Cell>))
            return cells
          })
        )

        // The user was told both ways; the email carries the 24-hour link, which works.
        const outbox = readdirSync(join(dataDir, "outbox")).filter((name) => name.endsWith(".eml"))
        expect(outbox).toHaveLength(1)
        const eml = readFileSync(join(dataDir, "outbox", outbox[0]!), "utf8")
        expect(eml).toContain(`X-Export-Job-Id: ${jobId}`)
        const notifications = yield* Effect.promise(() =>
          fetch(`${base}/api/v1/notifications`, { headers: auth }).then((r) =>
            r.json() as Promise<{ items: Array<{ jobId: string }> }>
          )
        )
        expect(notifications.items.map((n) => n.jobId)).toStrictEqual([jobId])
      }),
    { timeout: 120_000 }
  )
})

// Boots the `npm start` composition on a free port over a temporary data directory and runs an export end to
// end over HTTP against chdb: 202, the worker, the file, the signed link, the email and the in-app notice, export
// again refused and a 304; then what it left on disk is this user's only, and its file links and outbox refuse a
// Host that names another server.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { readEml } from "../../adapters/eml/EmlSupport.js"
import { embeddedServerIn, embeddedTokenFor } from "../../support/EmbeddedInProcess.js"
import { expectOrdersCsvAsQueried, temporaryDataDir } from "../../support/EndToEnd.js"
import { allPrivate, modesUnder } from "../../support/FileModes.js"
import { getWithHost } from "../../support/LoopbackServer.js"

describe("npm start composition", () => {
  it.scopedLive(
    "exports over HTTP against chdb, and the downloaded CSV holds exactly the rows the query gives",
    () =>
      Effect.gen(function*() {
        // A DATA_DIR the server creates itself (a temporary directory is already 0700).
        const dataDir = join(yield* temporaryDataDir("ade-embedded-"), "data")
        const { base, context, port } = yield* embeddedServerIn(dataDir, 20_000)
        const token = yield* embeddedTokenFor(dataDir, "e2e-user", "e2e@example.com")
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
        // The same report queried directly, apart from the export's streaming path.
        const rows = yield* expectOrdersCsvAsQueried(csv, body, "m-acme").pipe(Effect.provide(context))
        expect(rows.length).toBe(status.file?.rowCount)
        expect(rows.length).toBeGreaterThan(1000)

        // The user was told both ways; the email carries the 24-hour link, which works. The worker tells the user
        // after it has recorded the success, so the email may still be on its way: wait for it.
        const emails = () =>
          existsSync(join(dataDir, "outbox"))
            ? readdirSync(join(dataDir, "outbox")).filter((name) => name.endsWith(".eml"))
            : []
        for (let i = 0; i < 100 && emails().length === 0; i++) yield* Effect.sleep("100 millis")
        const outbox = emails()
        expect(outbox).toHaveLength(1)
        const eml = readFileSync(join(dataDir, "outbox", outbox[0]!), "utf8")
        expect(eml).toContain(`X-Export-Job-Id: ${jobId}`)
        // With APP_BASE_URL unset, the app the email sends the user to is this server.
        expect((yield* readEml(eml)).text).toContain(`You can also find it in the app: ${base}/exports/${jobId}`)
        const notifications = yield* Effect.promise(() =>
          fetch(`${base}/api/v1/notifications`, { headers: auth }).then((r) =>
            r.json() as Promise<{ items: Array<{ jobId: string }> }>
          )
        )
        expect(notifications.items.map((n) => n.jobId)).toStrictEqual([jobId])

        // Past the accept route to the HttpApi app: export again refuses a file that can still be downloaded, and a
        // poll with the status's ETag is a 304 with no body.
        const again = yield* Effect.promise(() =>
          fetch(`${base}${statusUrl}/retry`, { method: "POST", headers: auth }).then(async (r) => ({
            status: r.status,
            body: await r.json() as { error: { code: string } }
          }))
        )
        expect(again).toMatchObject({ status: 409, body: { error: { code: "export_not_retryable" } } })
        const etag = yield* Effect.promise(() =>
          fetch(`${base}${statusUrl}`, { headers: auth }).then((r) => r.headers.get("etag") ?? "")
        )
        const unchanged = yield* Effect.promise(() =>
          fetch(`${base}${statusUrl}`, { headers: { ...auth, "if-none-match": etag } }).then(async (r) => ({
            status: r.status,
            body: await r.text()
          }))
        )
        expect(unchanged).toStrictEqual({ status: 304, body: "" })

        // Exports, emails and secrets are readable by this user only; chdb's own files are inside its 0700 folder.
        const modes = modesUnder(dataDir, ["clickhouse"])
        expect(modes).toMatchObject({
          ".": "dir 700",
          "clickhouse": "dir 700",
          "files": "dir 700",
          "outbox": "dir 700",
          "secrets": "dir 700",
          "secrets/jwt-secret": "file 600",
          "secrets/link-secret": "file 600",
          [join("outbox", outbox[0]!)]: "file 600"
        })
        expect(Object.keys(modes).filter((path) => path.endsWith(".csv"))).toHaveLength(1)
        expect(modes).toStrictEqual(allPrivate(modes))

        // A page whose name was rebound to 127.0.0.1 sends its own name: the outbox and the signed link refuse it.
        const link = yield* Effect.promise(() =>
          fetch(`${base}${statusUrl}/download`, { headers: { ...auth, accept: "application/json" } }).then((r) =>
            r.json() as Promise<{ url: string }>
          )
        )
        const linkPath = `${new URL(link.url).pathname}${new URL(link.url).search}`
        for (const path of ["/dev/outbox", linkPath]) {
          for (const host of ["evil.example", `evil.example:${port}`]) {
            const refused = yield* getWithHost(port, path, host)
            expect(refused.status, `${host} ${path}`).toBe(421)
            expect(refused.text).not.toContain("e2e@example.com")
          }
          const served = yield* getWithHost(port, path, `localhost:${port}`)
          expect(served.status, path).toBe(200)
        }
      }),
    { timeout: 120_000 }
  )
})

// The `npm start` composition on chdb, over HTTP: an export's progress climbs while it runs and is gone once it is
// done; a running export is cancelled and its worker stops within 2 s leaving no file, a queued one is cancelled at
// once and its message then does nothing, a finished one answers 409; one in-app notice each, no email.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { embeddedServerIn, embeddedTokenFor } from "../../support/EmbeddedInProcess.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"

interface View {
  readonly status: string
  readonly progress?: { readonly rows: number; readonly bytes: number; readonly percent?: number }
  readonly file?: { readonly rowCount: number }
}

/** Every file under `dir`, recursively. */
const filesUnder = (dir: string): ReadonlyArray<string> =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) =>
      join(entry.parentPath, entry.name)
    )
    : []

describe("cancel and progress on the npm start composition (chdb)", () => {
  it.scopedLive(
    "progress climbs and is gone once done; cancel in each state; one notice each, no email",
    () =>
      Effect.gen(function*() {
        const dataDir = join(yield* temporaryDataDir("ade-cancel-"), "data")
        const { base } = yield* embeddedServerIn(dataDir, 12_000_000)
        const token = yield* embeddedTokenFor(dataDir, "cancel-user", "c@example.com")
        const auth = { authorization: `Bearer ${token}` }
        const call = (method: string, path: string, body?: unknown) =>
          Effect.promise(() =>
            fetch(`${base}${path}`, {
              method,
              headers: { ...auth, "content-type": "application/json" },
              ...(body === undefined ? {} : { body: JSON.stringify(body) })
            }).then(async (response) => ({ status: response.status, json: await response.json() }))
          )
        const request = (dateFrom: string, dateTo: string) =>
          Effect.map(
            call("POST", "/api/v1/reports/export", { reportType: "orders", format: "csv", dateFrom, dateTo }),
            (response) => (response.json as { jobId: string }).jobId
          )
        const view = (jobId: string) =>
          Effect.map(call("GET", `/api/v1/reports/exports/${jobId}`), (response) => response.json as View)

        // About 2 million order lines a merchant a year (demoRows above): an export of a year runs several seconds.
        // 1. A whole year of order lines runs long enough to watch, and to cancel.
        const running = yield* request("2025-01-01", "2025-12-31")
        // 2. With the one worker on the first, a second export waits in the queue, and its cancel lands at once. It is
        // cancelled before the first is watched: the first may end (and the second start) soon after its progress shows.
        const queued = yield* request("2024-01-01", "2024-12-31")
        expect((yield* view(queued)).status).toBe("queued")
        const queuedCancel = yield* call("POST", `/api/v1/reports/exports/${queued}/cancel`)
        expect([queuedCancel.status, (queuedCancel.json as View).status]).toStrictEqual([200, "cancelled"])
        const seen: Array<number> = []
        for (let i = 0; i < 100 && seen.length < 2; i++) {
          const current = yield* view(running)
          if (current.progress !== undefined && current.progress.rows !== seen[seen.length - 1]) {
            seen.push(current.progress.rows)
          }
          yield* Effect.sleep(Duration.millis(200))
        }
        expect(seen.length, "rows climbing while the export runs").toBe(2)
        expect(seen[1]!).toBeGreaterThan(seen[0]!)

        const cancelledAt = Date.now()
        const runningCancel = yield* call("POST", `/api/v1/reports/exports/${running}/cancel`)
        expect([runningCancel.status, (runningCancel.json as View).status]).toStrictEqual([200, "cancelled"])
        // The worker noticed and aborted its upload: its partial file is gone, and no file was published. Within 2 s
        // is CancelExport.test.ts's promise, on the test clock: a loaded machine's wall clock would make it a timed
        // test here.
        const files = join(dataDir, "files")
        while (filesUnder(files).length > 0 && Date.now() - cancelledAt < 15_000) yield* Effect.sleep("50 millis")
        expect(filesUnder(files)).toStrictEqual([])

        // 3. A short export runs to its end; then the queued message has been taken and left, and nothing more lands.
        const finished = yield* request("2025-01-01", "2025-01-02")
        for (let i = 0; i < 150 && (yield* view(finished)).status !== "succeeded"; i++) {
          yield* Effect.sleep("100 millis")
        }
        const done = yield* view(finished)
        expect(done.status).toBe("succeeded")
        expect(done.progress).toBe(undefined)
        const refused = yield* call("POST", `/api/v1/reports/exports/${finished}/cancel`)
        expect([refused.status, (refused.json as { error: { code: string } }).error.code]).toStrictEqual([
          409,
          "export_finished"
        ])
        expect(filesUnder(files).filter((path) => path.includes(running) || path.includes(queued))).toStrictEqual([])

        const notices = (yield* call("GET", "/api/v1/notifications")).json as {
          items: ReadonlyArray<{ jobId: string; kind: string }>
        }
        const cancelNotices = notices.items.filter((notice) => notice.kind === "export_cancelled")
        expect(cancelNotices.map((notice) => notice.jobId).sort()).toStrictEqual([queued, running].sort())
        expect(notices.items.filter((notice) => notice.jobId === running || notice.jobId === queued)).toHaveLength(2)
        // The finished export's email only (it is sent just after its job is recorded Succeeded).
        const emails = () => filesUnder(join(dataDir, "outbox")).filter((path) => path.endsWith(".eml"))
        for (let i = 0; i < 50 && emails().length === 0; i++) yield* Effect.sleep("100 millis")
        expect(emails()).toHaveLength(1)
      }),
    { timeout: 120_000 }
  )
})

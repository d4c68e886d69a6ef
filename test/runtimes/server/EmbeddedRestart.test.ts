// `npm start` stopped and started again on the same DATA_DIR, as a user runs it (a child process each time): what
// was exported before is still listed, readable, downloadable and notified, and nothing is sent twice. Then the
// same server SIGKILLed in the middle of an export: the next start finishes the job, tells its user exactly once,
// and publishes only a complete file. A second server on a data directory in use is refused at start-up.
import { describe, expect, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import { Cause, Duration, Effect, Exit } from "effect"
import { createHash } from "node:crypto"
import { statSync } from "node:fs"
import { join } from "node:path"
import { emailsFor, embeddedBearer, filesUnder, startEmbedded, stopEmbedded } from "../../support/EmbeddedProcess.js"
import type { EmbeddedProcess } from "../../support/EmbeddedProcess.js"
import { freePort, temporaryDataDir } from "../../support/EndToEnd.js"
import { fetchJson } from "../../support/NodeStack.js"
import type { ExportView, NotificationView } from "../../support/NodeStack.js"

const USER = { sub: "restart-user", merchantId: "m-acme", email: "restart@example.com" }

interface FileView {
  readonly rowCount: number
  readonly byteSize: number
  readonly sha256: string
}

const api = (server: EmbeddedProcess, auth: Record<string, string>) => ({
  requestExport: (body: Record<string, unknown>) =>
    fetchJson<{ jobId: string; statusUrl: string }>(`${server.base}/api/v1/reports/export`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(body)
    }),
  exportOf: (jobId: string) =>
    fetchJson<ExportView & { readonly file?: FileView }>(`${server.base}/api/v1/reports/exports/${jobId}`, {
      headers: auth
    }),
  exports: fetchJson<{ items: ReadonlyArray<ExportView> }>(`${server.base}/api/v1/reports/exports`, { headers: auth }),
  notifications: fetchJson<{ items: ReadonlyArray<NotificationView> }>(`${server.base}/api/v1/notifications`, {
    headers: auth
  }),
  /** The signed link the API gives for a download, and the bytes behind it. */
  download: (jobId: string) =>
    Effect.gen(function*() {
      const link = yield* fetchJson<{ url: string }>(`${server.base}/api/v1/reports/exports/${jobId}/download`, {
        headers: { ...auth, accept: "application/json" }
      })
      expect(link.status).toBe(200)
      const bytes = yield* fetchBytes(link.body.url)
      return { url: link.body.url, ...bytes }
    })
})

const fetchBytes = (url: string) =>
  Effect.promise(() =>
    fetch(url).then(async (response) => ({
      status: response.status,
      bytes: Buffer.from(await response.arrayBuffer())
    }))
  )

/** Polls `check` every 20 ms until it holds, for at most `within`. */
const until = <A>(
  read: Effect.Effect<A>,
  check: (value: A) => boolean,
  within: Duration.DurationInput,
  what: string
) =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(Duration.decode(within))
    let value = yield* read
    while (!check(value)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep("20 millis")
      value = yield* read
    }
    return value
  })

/** The file a job's record describes is the file served: its size, SHA-256 and row count. */
const expectComplete = (bytes: Buffer, file: FileView | undefined) => {
  expect(file).toBeDefined()
  expect(bytes.length).toBe(file!.byteSize)
  expect(createHash("sha256").update(bytes).digest("hex")).toBe(file!.sha256)
  const rows: Array<Array<string>> = parse(bytes.toString("utf8"))
  expect(rows.length - 1).toBe(file!.rowCount)
}

type Client = ReturnType<typeof api>

/** The export's view once `check` holds. */
const viewUntil = (
  client: Client,
  jobId: string,
  check: (view: ExportView & { readonly file?: FileView }) => boolean,
  within: Duration.DurationInput,
  what: string
) => until(Effect.map(client.exportOf(jobId), (response) => response.body), check, within, what)

/** A server on a data directory of its own seeded with `demoRows`, and USER's export of orders over `range`. */
const serverWithExport = (
  prefix: string,
  demoRows: number,
  range: { readonly dateFrom: string; readonly dateTo: string }
) =>
  Effect.gen(function*() {
    const dataDir = join(yield* temporaryDataDir(prefix), "data")
    const settings = { dataDir, port: yield* freePort, demoRows }
    const server = yield* startEmbedded(settings)
    const auth = yield* embeddedBearer(dataDir, USER)
    const client = api(server, auth)
    const accepted = yield* client.requestExport({ reportType: "orders", format: "csv", ...range })
    expect(accepted.status).toBe(202)
    return { dataDir, settings, server, auth, client, jobId: accepted.body.jobId }
  })

describe("npm start, stopped and started again", () => {
  it.live(
    "keeps the export, its status, download, link and notification, and sends nothing twice",
    () =>
      Effect.gen(function*() {
        const { auth, client: before, dataDir, jobId, server: first, settings } = yield* serverWithExport(
          "ade-restart-",
          20_000,
          { dateFrom: "2025-01-01", dateTo: "2025-06-30" }
        )
        const done = yield* viewUntil(
          before,
          jobId,
          (view) => view.status !== "queued" && view.status !== "running",
          "30 seconds",
          "the export"
        )
        expect(done.status).toBe("succeeded")
        const downloaded = yield* before.download(jobId)
        expect(downloaded.status).toBe(200)
        expectComplete(downloaded.bytes, done.file)
        yield* until(Effect.sync(() => emailsFor(dataDir, jobId)), (emails) => emails.length > 0, "10 seconds", "email")
        const noticesBefore = (yield* before.notifications).body.items
        expect(noticesBefore.map((n) => [n.jobId, n.kind])).toStrictEqual([[jobId, "export_succeeded"]])

        expect(yield* stopEmbedded(first)).toBe(0)
        const second = yield* startEmbedded(settings)
        const after = api(second, auth)

        expect((yield* after.exports).body.items.map((view) => [view.jobId, view.status])).toStrictEqual([
          [jobId, "succeeded"]
        ])
        const again = yield* after.exportOf(jobId)
        expect(again.status).toBe(200)
        expect(again.body).toStrictEqual(done)
        const redownloaded = yield* after.download(jobId)
        expect(redownloaded.status).toBe(200)
        expect(redownloaded.bytes.equals(downloaded.bytes)).toBe(true)
        // The link handed out before the restart still works: same secret, same file.
        const oldLink = yield* fetchBytes(downloaded.url)
        expect(oldLink.status).toBe(200)
        expect(oldLink.bytes.equals(downloaded.bytes)).toBe(true)
        expect((yield* after.notifications).body.items).toStrictEqual(noticesBefore)

        // Nothing ran again: after a while there is still one email, one notification and one file.
        yield* Effect.sleep("1 second")
        expect(emailsFor(dataDir, jobId)).toHaveLength(1)
        expect((yield* after.notifications).body.items).toHaveLength(1)
        expect(filesUnder(join(dataDir, "files", "exports"))).toStrictEqual([
          `m-acme/${jobId}/attempt-1.csv`,
          `m-acme/${jobId}/attempt-1.csv.meta.json`
        ])
        expect(yield* stopEmbedded(second)).toBe(0)
      }).pipe(Effect.scoped),
    { timeout: 180_000 }
  )

  it.live(
    "SIGKILLed in the middle of an export: the next start finishes it, tells the user once, publishes a complete file",
    () =>
      Effect.gen(function*() {
        // A year of m-acme's order lines out of 1.2 million: some 300 000 rows, over 35 MB of CSV, a second or more.
        const { auth, client: before, dataDir, jobId, server: first, settings } = yield* serverWithExport(
          "ade-killed-",
          1_200_000,
          { dateFrom: "2024-01-01", dateTo: "2024-12-31" }
        )
        const running = yield* viewUntil(before, jobId, (view) => view.status !== "queued", "30 seconds", "the start")
        expect(running.status).toBe("running")
        // Killed once the file is being written: a megabyte in the upload's partial file, nothing published.
        const partials = join(dataDir, "files", ".partial")
        const partialBytes = () =>
          filesUnder(partials).reduce((total, name) => total + statSync(join(partials, name)).size, 0)
        yield* until(Effect.sync(partialBytes), (bytes) => bytes > 1_000_000, "30 seconds", "the upload to begin")
        expect(yield* stopEmbedded(first, "SIGKILL")).toBe("SIGKILL")
        expect(filesUnder(join(dataDir, "files", "exports"))).toStrictEqual([])
        expect(emailsFor(dataDir, jobId)).toStrictEqual([])

        const second = yield* startEmbedded(settings)
        const after = api(second, auth)
        const done = yield* viewUntil(
          after,
          jobId,
          (view) => view.status === "succeeded" || view.status === "failed",
          // Well under the queue's one-minute visibility: the message the killed process held is handed out as soon
          // as the next one starts, not once its visibility runs out.
          "40 seconds",
          "the export to finish after the restart"
        )
        expect(done.status).toBe("succeeded")
        // Its message came back as a redelivery and started the job's second attempt.
        expect(done.attempts).toBe(2)
        const downloaded = yield* after.download(jobId)
        expect(downloaded.status).toBe(200)
        expectComplete(downloaded.bytes, done.file)
        // Only the second attempt's file is published; the first one never left its partial file.
        expect(filesUnder(join(dataDir, "files", "exports"))).toStrictEqual([
          `m-acme/${jobId}/attempt-2.csv`,
          `m-acme/${jobId}/attempt-2.csv.meta.json`
        ])

        yield* until(Effect.sync(() => emailsFor(dataDir, jobId)), (emails) => emails.length > 0, "10 seconds", "email")
        yield* Effect.sleep("1 second")
        expect(emailsFor(dataDir, jobId)).toHaveLength(1)
        expect((yield* after.notifications).body.items.map((n) => [n.jobId, n.kind])).toStrictEqual([
          [jobId, "export_succeeded"]
        ])
        expect((yield* after.exports).body.items.map((view) => [view.jobId, view.status])).toStrictEqual([
          [jobId, "succeeded"]
        ])
        expect(second.output.join("")).toContain("messages held by the previous process are visible again")

        // A second server on the same data directory stops at start-up, saying why.
        const intruder = yield* Effect.exit(startEmbedded({ ...settings, port: yield* freePort }, "30 seconds"))
        expect(Exit.isFailure(intruder) && Cause.pretty(intruder.cause)).toContain(
          `${join(dataDir, "exports.sqlite")} is in use by another process: one embedded server per DATA_DIR.`
        )
        expect((yield* after.exports).status).toBe(200)
        expect(yield* stopEmbedded(second)).toBe(0)
      }).pipe(Effect.scoped),
    { timeout: 240_000 }
  )
})

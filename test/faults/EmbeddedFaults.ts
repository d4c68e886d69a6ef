// The fault matrix's scenarios on `npm start` (the embedded server on chdb and SQLite), run as a user runs it: a
// child process on a data directory of the scenario's own.
import { expect } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { statSync } from "node:fs"
import { join } from "node:path"
import { embeddedBearer, filesUnder, startEmbedded, stopEmbedded } from "../support/EmbeddedProcess.js"
import type { EmbeddedProcess } from "../support/EmbeddedProcess.js"
import { freePort, temporaryDataDir } from "../support/EndToEnd.js"
import { embeddedQueue, jsonLines, observeEmbedded } from "../support/FaultAudit.js"
import type { SourceEnd } from "../support/FaultAudit.js"
import { eventually, fetchJson } from "../support/NodeStack.js"
import type { ExportView } from "../support/NodeStack.js"

const USER = { sub: "fault-embedded-user", merchantId: "m-acme", email: "fault-embedded@example.com" }
// A year of m-acme's order lines out of 1.2 million: some 300 000 rows, over 35 MB of CSV, a second or more.
const YEAR = { reportType: "orders", format: "csv", dateFrom: "2024-01-01", dateTo: "2024-12-31" }

const exportOf = (server: EmbeddedProcess, auth: Record<string, string>, jobId: string) =>
  fetchJson<ExportView>(`${server.base}/api/v1/reports/exports/${jobId}`, { headers: auth }).pipe(
    Effect.map((response) => response.body)
  )

/**
 * `npm start` SIGKILLed once the export is writing its file, then started again on the same DATA_DIR: the next
 * process releases the dead one's message and lease at start and runs the job as its second attempt.
 */
export const embeddedKilledAndRestarted = Effect.gen(function*() {
  const dataDir = join(yield* temporaryDataDir("ade-fault-embedded-"), "data")
  const settings = { dataDir, port: yield* freePort, demoRows: 1_200_000 }
  const ends: Array<SourceEnd> = []
  const first = yield* startEmbedded(settings)
  const auth = yield* embeddedBearer(dataDir, USER)
  const accepted = yield* fetchJson<{ jobId: string }>(`${first.base}/api/v1/reports/export`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(YEAR)
  })
  expect(accepted.status).toBe(202)
  const { jobId } = accepted.body

  // The fault: killed while the export writes its file (a megabyte in the upload's partial file, nothing published).
  const partials = join(dataDir, "files", ".partial")
  const partialBytes = () =>
    filesUnder(partials).reduce((total, name) => total + statSync(join(partials, name)).size, 0)
  expect(yield* eventually(Effect.sync(partialBytes), (bytes) => bytes > 1_000_000, "30 seconds")).toBeGreaterThan(
    1_000_000
  )
  const killedAt = Date.now()
  expect(yield* stopEmbedded(first, "SIGKILL")).toBe("SIGKILL")
  ends.push({ source: "server-1", at: killedAt, how: "killed" })
  expect(filesUnder(join(dataDir, "files", "exports"))).toStrictEqual([])
  expect(jsonLines("server-1", first.output).filter((line) => line.jobId === jobId).map((line) => line.message))
    .toContain("export running")

  const second = yield* startEmbedded(settings)
  const done = yield* eventually(
    exportOf(second, auth, jobId),
    (view) => view.status === "succeeded" || view.status === "failed",
    Duration.seconds(40)
  )
  expect(done).toMatchObject({ status: "succeeded", attempts: 2 })
  // Both notices settled before the server is stopped, so that what the audit reads is the end state.
  yield* eventually(
    Effect.sync(() => jsonLines("server-2", second.output).filter((l) => l.message === "notification sent")),
    (sent) => sent.length === 2,
    Duration.seconds(20)
  )
  expect(second.output.join("")).toContain("messages held by the previous process are visible again")
  const stoppedAt = Date.now()
  expect(yield* stopEmbedded(second)).toBe(0)
  ends.push({ source: "server-2", at: stoppedAt, how: "stopped" })
  expect(embeddedQueue(dataDir)).toStrictEqual({ messages: 0, deadLetters: 0 })

  const lines = [...jsonLines("server-1", first.output), ...jsonLines("server-2", second.output)]
  return observeEmbedded(dataDir, [jobId], lines, ends)
}).pipe(Effect.scoped)

// The exports endpoints end to end over the in-memory adapters: 202 Accepted with the job's address, idempotency
// and deduplication, a refused queue, the job's status through its life, listing with paging, and downloads
// decided at click time.
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import { DateTime, Duration, Effect, Option, TestClock } from "effect"
import { createHash } from "node:crypto"
import { ExportApi } from "../../../src/adapters/http/Api.js"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import type { Faults } from "../../../src/adapters/memory/FaultInjection.js"
import { MemoryFiles } from "../../../src/adapters/memory/MemoryFileStore.js"
import { IDEMPOTENCY_WINDOW } from "../../../src/domain/ExportJob.js"
import { apiTestLayer, tokenFor } from "../../support/ApiHarness.js"
import { alice, callerOf, dayOf2024, drainQueue } from "../../support/Fixtures.js"
import {
  epochMillisOf,
  expectApiError,
  expectError,
  expectRefused,
  EXPORT_PATH,
  EXPORTS_PATH,
  getRaw,
  issuesOf,
  ordersBody,
  postExport,
  send
} from "./HttpSupport.js"

const ROWS = 50
const DAY = Duration.hours(24)

/** A client and a raw token for alice that stay valid across the clock jumps of these tests. */
const aliceForTwoDays = Effect.gen(function*() {
  const token = yield* tokenFor(alice, { ttl: Duration.days(2) })
  const client = yield* HttpApiClient.make(ExportApi, {
    transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
  })
  return { client, token }
})

interface Accepted {
  readonly jobId: string
  readonly status: string
  readonly statusUrl: string
}

interface RawView {
  readonly jobId: string
  readonly status: string
  readonly file?: { readonly expiresAt: string; readonly expired: boolean; readonly downloadUrl: string }
}

/** The stored file of alice's job, as a test reads it back from the memory store. */
const storedFile = (jobId: string) =>
  Effect.gen(function*() {
    const files = yield* MemoryFiles
    return Option.getOrThrow(yield* files.read(`exports/${alice.owner.merchantId}/${jobId}/attempt-1.csv`))
  })

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** Requests an export, runs the worker and returns the finished view. */
const finishedExport = Effect.gen(function*() {
  const { client } = yield* aliceForTwoDays
  const accepted = yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
  yield* drainQueue
  return yield* client.exports.getExport({ path: { jobId: accepted.jobId } })
})

const downloadPath = (jobId: string) => `${EXPORTS_PATH}/${jobId}/download`
const asJson = { accept: "application/json" }

describe("HTTP API: starting an export", () => {
  it.effect("answers 202 with the job id, status queued and a Location equal to the status URL", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const response = yield* postExport(token, ordersBody())
      expect(response.status).toBe(202)
      const body = response.json as Accepted
      expect(Object.keys(body).sort()).toStrictEqual(["jobId", "status", "statusUrl"])
      expect(body.status).toBe("queued")
      expect(body.jobId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(body.statusUrl).toBe(`${EXPORTS_PATH}/${body.jobId}`)
      expect(response.headers["location"]).toBe(body.statusUrl)

      // The Location leads to the job.
      const view = yield* getRaw(response.headers["location"]!, token)
      expect(view.status).toBe(200)
      expect((view.json as RawView).jobId).toBe(body.jobId)
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("accepts application/json with a charset parameter", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const response = yield* send(
        HttpClientRequest.post(EXPORT_PATH).pipe(
          HttpClientRequest.bearerToken(token),
          HttpClientRequest.bodyText(JSON.stringify(ordersBody()), "application/json; charset=utf-8")
        )
      )
      expect(response.status).toBe(202)
      expect((response.json as Accepted).status).toBe("queued")
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("answers the same Idempotency-Key and body with the same job, before and after it ran", () =>
    Effect.gen(function*() {
      const { client } = yield* aliceForTwoDays
      const headers = { "idempotency-key": "order-export-2024-q1" }
      const first = yield* client.exports.requestExport({ payload: ordersBody(), headers })
      yield* TestClock.adjust(Duration.minutes(1))
      const second = yield* client.exports.requestExport({ payload: ordersBody(), headers })
      expect(second.jobId).toBe(first.jobId)
      yield* drainQueue
      yield* TestClock.adjust(Duration.hours(1))
      const third = yield* client.exports.requestExport({ payload: ordersBody(), headers })
      expect(third.jobId).toBe(first.jobId)
      expect(third.status).toBe("succeeded")
      const listed = yield* client.exports.listExports({ urlParams: {} })
      expect(listed.items.map((item) => item.jobId)).toStrictEqual([first.jobId])
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("refuses the same Idempotency-Key with a different body as idempotency_key_reused, starting nothing", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const headers = { "idempotency-key": "k-1" }
      const first = (yield* postExport(token, ordersBody(), headers)).json as Accepted
      const reused = yield* postExport(token, ordersBody("2024-01-01", "2024-01-31"), headers)
      // The message names the window the store applies.
      expect(expectRefused(reused, "idempotency_key_reused").error.message).toBe(
        `This Idempotency-Key was used in the last ${IDEMPOTENCY_WINDOW} for a different export.`
      )
      expect(reused.text).not.toContain(first.jobId)
      const listed = (yield* getRaw(EXPORTS_PATH, token)).json as { items: Array<RawView> }
      expect(listed.items.map((item) => item.jobId)).toStrictEqual([first.jobId])
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("answers an identical export while the first is queued with the same job, and a new one once it ran", () =>
    Effect.gen(function*() {
      const { client } = yield* aliceForTwoDays
      const first = yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
      const again = yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
      expect(again).toStrictEqual(first)
      // Another range is another export.
      const other = yield* client.exports.requestExport({
        payload: ordersBody("2024-02-01", "2024-02-29"),
        headers: {}
      })
      expect(other.jobId).not.toBe(first.jobId)

      yield* drainQueue
      const later = yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
      expect(later.jobId).not.toBe(first.jobId)
      expect(later.status).toBe("queued")
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("when the queue refuses, says queue_unavailable and leaves the job failed, none queued", () =>
    Effect.gen(function*() {
      const { client, token } = yield* aliceForTwoDays
      const faults = yield* FaultInjection
      yield* faults.set({ queue: true })
      const refused = yield* postExport(token, ordersBody())
      expectError(refused, "queue_unavailable")
      expect(refused.status).not.toBe(202)
      yield* faults.clear

      const listed = yield* client.exports.listExports({ urlParams: {} })
      expect(listed.items).toHaveLength(1)
      expect(listed.items.filter((item) => item.status === "queued")).toHaveLength(0)
      const [failed] = listed.items
      expect(failed?.status).toBe("failed")
      expect(failed?.failure?.reason).toBe("QueueUnavailable")
      expect(failed?.failure?.message).not.toMatch(/injected|fault/i)

      // Once the queue is back the same export starts afresh.
      const retried = yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
      expect(retried.jobId).not.toBe(failed?.jobId)
      expect(retried.status).toBe("queued")
    }).pipe(Effect.provide(apiTestLayer(ROWS))))
})

describe("HTTP API: an Idempotency-Key after a failure", () => {
  it.effect("after queue_unavailable, a retry with the same key starts the export: 202, a new job the key then names", () =>
    Effect.gen(function*() {
      const { client, token } = yield* aliceForTwoDays
      const headers = { "idempotency-key": "order-export-2024-q1" }
      yield* (yield* FaultInjection).set({ queue: true }, { queue: 1 })
      const refused = yield* postExport(token, ordersBody(), headers)
      expectError(refused, "queue_unavailable")
      yield* TestClock.adjust(Duration.seconds(5))

      const retried = yield* postExport(token, ordersBody(), headers)
      expect(retried.status).toBe(202)
      const started = retried.json as Accepted
      expect(started.status).toBe("queued")
      const again = yield* client.exports.requestExport({ payload: ordersBody(), headers })
      expect(again.jobId).toBe(started.jobId)

      const listed = yield* client.exports.listExports({ urlParams: {} })
      expect(listed.items.map((item) => [item.jobId === started.jobId, item.status])).toStrictEqual([
        [true, "queued"],
        [false, "failed"]
      ])
      yield* drainQueue
      expect((yield* client.exports.getExport({ path: { jobId: started.jobId } })).status).toBe("succeeded")
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("a key whose export failed in the worker keeps answering with that job", () =>
    Effect.gen(function*() {
      const { client } = yield* aliceForTwoDays
      const headers = { "idempotency-key": "order-export-2024-q1" }
      const faults = yield* FaultInjection
      yield* faults.set({ query: { kind: "error", afterRows: 3, retryable: false } })
      const first = yield* client.exports.requestExport({ payload: ordersBody(), headers })
      yield* drainQueue
      yield* faults.clear
      yield* TestClock.adjust(Duration.minutes(1))
      const again = yield* client.exports.requestExport({ payload: ordersBody(), headers })
      expect([again.jobId, again.status]).toStrictEqual([first.jobId, "failed"])
      expect((yield* client.exports.listExports({ urlParams: {} })).items).toHaveLength(1)
    }).pipe(Effect.provide(apiTestLayer(ROWS))))
})

describe("HTTP API: an export's status", () => {
  it.effect("shows a queued job with its parameters, the defaults applied, and no file yet", () =>
    Effect.gen(function*() {
      const { client } = yield* aliceForTwoDays
      yield* TestClock.adjust(Duration.hours(5))
      const now = yield* DateTime.now
      const accepted = yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
      const view = yield* client.exports.getExport({ path: { jobId: accepted.jobId } })
      expect(view.status).toBe("queued")
      expect(view.jobId).toBe(accepted.jobId)
      expect(view.reportType).toBe("orders")
      expect(view.format).toBe("csv")
      expect(view.params).toStrictEqual({ dateFrom: "2024-01-01", dateTo: "2024-03-31", timezone: "UTC" })
      expect(DateTime.toEpochMillis(view.requestedAt)).toBe(DateTime.toEpochMillis(now))
      expect(view.attempts).toBe(0)
      expect(view.statusUrl).toBe(accepted.statusUrl)
      expect(view.startedAt).toBeUndefined()
      expect(view.finishedAt).toBeUndefined()
      expect(view.file).toBeUndefined()
      expect(view.failure).toBeUndefined()
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("shows a finished job's file: rows, bytes and sha256 of what was stored, a 24 h expiry, our download URL", () =>
    Effect.gen(function*() {
      const view = yield* finishedExport
      expect(view.status).toBe("succeeded")
      expect(view.attempts).toBe(1)
      expect(view.startedAt).toBeDefined()
      expect(view.finishedAt).toBeDefined()
      expect(view.failure).toBeUndefined()
      const file = view.file!
      const stored = yield* storedFile(view.jobId)
      const records: Array<Array<string>> = parse(Buffer.from(stored.bytes))
      expect(file.rowCount).toBe(records.length - 1)
      expect(file.rowCount).toBeGreaterThan(0)
      expect(file.byteSize).toBe(stored.bytes.length)
      expect(file.sha256).toBe(sha256(stored.bytes))
      expect(DateTime.toEpochMillis(file.expiresAt) - DateTime.toEpochMillis(view.finishedAt!))
        .toBe(Duration.toMillis(DAY))
      expect(file.expired).toBe(false)
      expect(file.downloadUrl).toBe(`/api/v1/reports/exports/${view.jobId}/download`)
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  const failures: ReadonlyArray<{ readonly faults: Faults; readonly reason: string }> = [
    { faults: { upload: { afterBytes: 0, retryable: false } }, reason: "UploadFailed" },
    { faults: { query: { kind: "error", afterRows: 5, retryable: false } }, reason: "QueryFailed" },
    { faults: { signing: true }, reason: "LinkSigningFailed" }
  ]
  for (const { faults, reason } of failures) {
    it.effect(`shows a job failed with ${reason}: the reason and a message for the user, no technical detail`, () =>
      Effect.gen(function*() {
        const { client, token } = yield* aliceForTwoDays
        yield* (yield* FaultInjection).set(faults)
        const accepted = yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
        yield* drainQueue
        const view = yield* client.exports.getExport({ path: { jobId: accepted.jobId } })
        expect(view.status).toBe("failed")
        expect(view.file).toBeUndefined()
        expect(view.finishedAt).toBeDefined()
        expect(view.failure?.reason).toBe(reason)
        expect(view.failure!.message.length).toBeGreaterThan(10)
        // The raw document too: nothing of the adapters' detail, no storage key.
        const raw = yield* getRaw(accepted.statusUrl, token)
        expect(raw.text).not.toMatch(/injected|fault|memory:\/\/|exports\/m-acme/i)
      }).pipe(Effect.provide(apiTestLayer(ROWS))))
  }

  it.effect("marks the file expired in the status once its 24 hours are over", () =>
    Effect.gen(function*() {
      const view = yield* finishedExport
      const { token } = yield* aliceForTwoDays
      yield* TestClock.adjust(DAY)
      const raw = (yield* getRaw(view.statusUrl, token)).json as RawView
      expect(raw.status).toBe("succeeded")
      expect(raw.file?.expired).toBe(true)
      expect(epochMillisOf(raw.file!.expiresAt)).toBe(DateTime.toEpochMillis(view.file!.expiresAt))
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("says export_not_found for an id that is no job, well-formed or not", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      for (const jobId of ["0190a6e0-0000-7000-8000-000000000000", "not-a-job-id"]) {
        expectRefused(yield* getRaw(`${EXPORTS_PATH}/${jobId}`, token), "export_not_found")
        expectRefused(yield* getRaw(downloadPath(jobId), token, asJson), "export_not_found")
      }
    }).pipe(Effect.provide(apiTestLayer(ROWS))))
})

describe("HTTP API: listing exports", () => {
  it.effect("lists the caller's exports newest first, in pages linked by a cursor", () =>
    Effect.gen(function*() {
      const { client } = yield* aliceForTwoDays
      const created: Array<string> = []
      for (let n = 0; n < 5; n++) {
        const accepted = yield* client.exports.requestExport({
          payload: ordersBody(dayOf2024(n), dayOf2024(n + 10)),
          headers: {}
        })
        created.push(accepted.jobId)
        yield* TestClock.adjust(Duration.seconds(1))
      }
      const newestFirst = [...created].reverse()

      const all = yield* client.exports.listExports({ urlParams: {} })
      expect(all.items.map((item) => item.jobId)).toStrictEqual(newestFirst)
      expect(all.nextCursor).toBeUndefined()

      const pages: Array<Array<string>> = []
      let cursor: string | undefined = undefined
      do {
        const page: typeof all = yield* client.exports.listExports({
          urlParams: cursor === undefined ? { limit: "2" } : { limit: "2", cursor }
        })
        pages.push(page.items.map((item) => item.jobId))
        cursor = page.nextCursor
      } while (cursor !== undefined && pages.length < 10)
      expect(pages).toStrictEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)])
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("gives no cursor when the page holds the last export exactly", () =>
    Effect.gen(function*() {
      const { client } = yield* aliceForTwoDays
      for (let n = 0; n < 2; n++) {
        yield* client.exports.requestExport({ payload: ordersBody(dayOf2024(n), dayOf2024(n + 1)), headers: {} })
      }
      const page = yield* client.exports.listExports({ urlParams: { limit: "2" } })
      expect(page.items).toHaveLength(2)
      expect(page.nextCursor).toBeUndefined()
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("answers a bad limit with a 400 naming limit", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const error = expectApiError(yield* getRaw(`${EXPORTS_PATH}?limit=1000`, token), 400, "invalid_request")
      expect(issuesOf(error).map((issue) => issue.field)).toStrictEqual(["limit"])
    }).pipe(Effect.provide(apiTestLayer(ROWS))))
})

describe("HTTP API: downloading an export", () => {
  it.effect("gives a client that asks for JSON a link valid at most 5 minutes, which opens the file", () =>
    Effect.gen(function*() {
      const view = yield* finishedExport
      const { token } = yield* aliceForTwoDays
      yield* TestClock.adjust(Duration.hours(1))
      const now = DateTime.toEpochMillis(yield* DateTime.now)
      const response = yield* getRaw(view.file!.downloadUrl, token, asJson)
      expect(response.status).toBe(200)
      expect(response.headers["cache-control"]).toBe("no-store")
      const link = response.json as { url: string; expiresAt: string }
      expect(Object.keys(link).sort()).toStrictEqual(["expiresAt", "url"])
      const expiresAt = epochMillisOf(link.expiresAt)
      expect(expiresAt).toBeGreaterThan(now)
      expect(expiresAt - now).toBeLessThanOrEqual(Duration.toMillis(Duration.minutes(5)))

      const files = yield* MemoryFiles
      const opened = yield* files.open(link.url)
      expect(sha256(opened.bytes)).toBe(view.file!.sha256)
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("redirects a browser (302, no-store) to a signed link that soon stops working", () =>
    Effect.gen(function*() {
      const view = yield* finishedExport
      const { token } = yield* aliceForTwoDays
      const response = yield* getRaw(view.file!.downloadUrl, token)
      expect(response.status).toBe(302)
      expect(response.headers["cache-control"]).toBe("no-store")
      const location = response.headers["location"]!
      expect(location).toMatch(/^memory:\/\/files\//)
      expect(location).toContain(view.jobId)

      const files = yield* MemoryFiles
      expect(sha256((yield* files.open(location)).bytes)).toBe(view.file!.sha256)
      yield* TestClock.adjust(Duration.minutes(5))
      expect(yield* Effect.flip(files.open(location))).toBe("expired")
      // The export itself is still valid: another click gives another working link.
      const again = yield* getRaw(view.file!.downloadUrl, token)
      expect(again.status).toBe(302)
      expect(sha256((yield* files.open(again.headers["location"]!)).bytes)).toBe(view.file!.sha256)
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("never gives a link that outlives the export: 2 minutes before its expiry the link lasts 2 minutes", () =>
    Effect.gen(function*() {
      const view = yield* finishedExport
      const { token } = yield* aliceForTwoDays
      yield* TestClock.adjust(Duration.sum(Duration.hours(23), Duration.minutes(58)))
      const response = yield* getRaw(view.file!.downloadUrl, token, asJson)
      expect(response.status).toBe(200)
      const link = response.json as { url: string; expiresAt: string }
      const exportExpiry = DateTime.toEpochMillis(view.file!.expiresAt)
      expect(epochMillisOf(link.expiresAt)).toBeLessThanOrEqual(exportExpiry)
      expect(epochMillisOf(link.expiresAt)).toBeGreaterThan(DateTime.toEpochMillis(yield* DateTime.now))

      const files = yield* MemoryFiles
      yield* files.open(link.url)
      yield* TestClock.adjust(Duration.minutes(2))
      expect(yield* Effect.flip(files.open(link.url))).toBe("expired")
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("says export_not_ready while the job is queued", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const accepted = (yield* postExport(token, ordersBody())).json as Accepted
      for (const headers of [asJson, {}]) {
        const response = yield* getRaw(downloadPath(accepted.jobId), token, headers)
        expectRefused(response, "export_not_ready")
        expect(response.headers["location"]).toBeUndefined()
      }
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("says export_not_ready for a failed job, which has no file", () =>
    Effect.gen(function*() {
      const { client, token } = yield* aliceForTwoDays
      yield* (yield* FaultInjection).set({ upload: { afterBytes: 0, retryable: false } })
      const accepted = yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
      yield* drainQueue
      expect((yield* client.exports.getExport({ path: { jobId: accepted.jobId } })).status).toBe("failed")
      const response = yield* getRaw(downloadPath(accepted.jobId), token)
      expectRefused(response, "export_not_ready")
      expect(response.headers["location"]).toBeUndefined()
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("says export_expired once the export's 24 hours are over, and signs nothing", () =>
    Effect.gen(function*() {
      const view = yield* finishedExport
      const { token } = yield* aliceForTwoDays
      yield* TestClock.adjust(DAY)
      for (const headers of [asJson, {}]) {
        const response = yield* getRaw(view.file!.downloadUrl, token, headers)
        expectRefused(response, "export_expired")
        expect(response.headers["location"]).toBeUndefined()
        expect(response.text).not.toContain("memory://")
      }
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("says download_unavailable when the link cannot be signed at click time, and works once it can", () =>
    Effect.gen(function*() {
      const view = yield* finishedExport
      const { token } = yield* aliceForTwoDays
      const faults = yield* FaultInjection
      yield* faults.set({ signing: true })
      const refused = yield* getRaw(view.file!.downloadUrl, token, asJson)
      expectError(refused, "download_unavailable")
      expect(refused.text).not.toMatch(/injected|memory:\/\//)
      yield* faults.clear
      expect((yield* getRaw(view.file!.downloadUrl, token, asJson)).status).toBe(200)
    }).pipe(Effect.provide(apiTestLayer(ROWS))))

  it.effect("checks the caller at click time: a colleague with the download URL gets export_not_found", () =>
    Effect.gen(function*() {
      const view = yield* finishedExport
      const colleague = yield* tokenFor(callerOf("carol", alice.owner.merchantId))
      const response = yield* getRaw(view.file!.downloadUrl, colleague)
      expectRefused(response, "export_not_found")
      expect(response.headers["location"]).toBeUndefined()
    }).pipe(Effect.provide(apiTestLayer(ROWS))))
})

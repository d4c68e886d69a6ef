// Tenancy at the HTTP edge: a job, its file and its notifications are their owner's alone. Anyone else, in the
// same merchant or not, with the same user id or not, is answered exactly as for a job that does not exist.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Caller } from "../../../src/application/RequestExport.js"
import { apiTestLayer, clientFor, tokenFor } from "../../support/ApiHarness.js"
import { alice, bob, callerOf, drainQueue } from "../../support/Fixtures.js"
import type { RawResponse } from "./HttpSupport.js"
import {
  expectError,
  expectRefused,
  EXPORTS_PATH,
  getRaw,
  issuesOf,
  NOTIFICATIONS_PATH,
  ordersBody,
  postEmpty,
  postExport
} from "./HttpSupport.js"

const intruders: ReadonlyArray<{ readonly name: string; readonly caller: Caller }> = [
  { name: "another user of alice's merchant", caller: callerOf("carol", alice.owner.merchantId) },
  { name: "the same user id in another merchant", caller: callerOf(alice.owner.userId, "m-globex") },
  { name: "a user of another merchant", caller: bob }
]

/** Alice's finished export and its notification, seen by alice. */
const alicesExport = Effect.gen(function*() {
  const client = yield* clientFor(alice)
  const accepted = yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
  yield* drainQueue
  const view = yield* client.exports.getExport({ path: { jobId: accepted.jobId } })
  expect(view.status).toBe("succeeded")
  const notifications = yield* client.notifications.listNotifications()
  expect(notifications.items).toHaveLength(1)
  return { jobId: accepted.jobId, notificationId: notifications.items[0]!.id }
})

/** Status, code and message: what a client can tell two answers apart by. */
const answerOf = (response: RawResponse) => {
  const body = response.json as { error: { code: string; message: string } }
  return { status: response.status, code: body.error.code, message: body.error.message }
}

const UNKNOWN_JOB = "0190a6e0-0000-7000-8000-000000000000"

describe("HTTP API: tenancy", () => {
  for (const { caller, name } of intruders) {
    it.effect(`${name} cannot see alice's export, as if it did not exist`, () =>
      Effect.gen(function*() {
        const { jobId } = yield* alicesExport
        const token = yield* tokenFor(caller)

        const status = yield* getRaw(`${EXPORTS_PATH}/${jobId}`, token)
        expectRefused(status, "export_not_found")
        expect(status.text).not.toContain(jobId)
        expect(answerOf(status)).toStrictEqual(answerOf(yield* getRaw(`${EXPORTS_PATH}/${UNKNOWN_JOB}`, token)))

        for (const headers of [{ accept: "application/json" }, {}]) {
          const download = yield* getRaw(`${EXPORTS_PATH}/${jobId}/download`, token, headers)
          expectRefused(download, "export_not_found")
          expect(download.headers["location"]).toBeUndefined()
          expect(download.text).not.toContain("memory://")
          expect(answerOf(download)).toStrictEqual(
            answerOf(yield* getRaw(`${EXPORTS_PATH}/${UNKNOWN_JOB}/download`, token, headers))
          )
        }

        const list = yield* getRaw(EXPORTS_PATH, token)
        expect(list.status).toBe(200)
        expect(list.json).toStrictEqual({ items: [] })
      }).pipe(Effect.provide(apiTestLayer())))

    it.effect(`${name} sees none of alice's notifications and cannot mark hers read`, () =>
      Effect.gen(function*() {
        const { notificationId } = yield* alicesExport
        const token = yield* tokenFor(caller)

        const list = yield* getRaw(NOTIFICATIONS_PATH, token)
        expect(list.status).toBe(200)
        expect(list.json).toStrictEqual({ items: [] })

        const mark = yield* postEmpty(`${NOTIFICATIONS_PATH}/${encodeURIComponent(notificationId)}/read`, token)
        expectRefused(mark, "notification_not_found")
        expect(answerOf(mark)).toStrictEqual(
          answerOf(yield* postEmpty(`${NOTIFICATIONS_PATH}/no-such-notification/read`, token))
        )
        // Hers is still unread.
        const hers = yield* (yield* clientFor(alice)).notifications.listNotifications()
        expect(hers.items.map((n) => n.readAt)).toStrictEqual([undefined])
      }).pipe(Effect.provide(apiTestLayer())))

    it.effect(`${name} gets an export of their own, apart from alice's, under the same Idempotency-Key`, () =>
      Effect.gen(function*() {
        const aliceClient = yield* clientFor(alice)
        const headers = { "idempotency-key": "shared-key" }
        const hers = yield* aliceClient.exports.requestExport({ payload: ordersBody(), headers })
        const theirs = yield* (yield* clientFor(caller)).exports.requestExport({ payload: ordersBody(), headers })
        expect(theirs.jobId).not.toBe(hers.jobId)
        expect(theirs.status).toBe("queued")
        yield* drainQueue

        const aliceList = yield* aliceClient.exports.listExports({ urlParams: {} })
        expect(aliceList.items.map((item) => item.jobId)).toStrictEqual([hers.jobId])
        const theirList = yield* (yield* clientFor(caller)).exports.listExports({ urlParams: {} })
        expect(theirList.items.map((item) => item.jobId)).toStrictEqual([theirs.jobId])
        // Each notification goes to its owner only.
        const aliceNotifications = yield* aliceClient.notifications.listNotifications()
        expect(aliceNotifications.items.map((n) => n.jobId)).toStrictEqual([hers.jobId])
        const theirNotifications = yield* (yield* clientFor(caller)).notifications.listNotifications()
        expect(theirNotifications.items.map((n) => n.jobId)).toStrictEqual([theirs.jobId])
      }).pipe(Effect.provide(apiTestLayer())))
  }

  it.effect("does not let a cursor made of another owner's job id reveal or skip anything", () =>
    Effect.gen(function*() {
      const { jobId } = yield* alicesExport
      const bobClient = yield* clientFor(bob)
      const own = yield* bobClient.exports.requestExport({ payload: ordersBody(), headers: {} })
      const cursor = Buffer.from(jobId).toString("base64url")
      const page = yield* bobClient.exports.listExports({ urlParams: { cursor } })
      expect(page.items.map((item) => item.jobId)).not.toContain(jobId)
      const all = yield* bobClient.exports.listExports({ urlParams: {} })
      expect(all.items.map((item) => item.jobId)).toStrictEqual([own.jobId])
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("refuses a body that names a merchant, whichever: the merchant comes from the token alone", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      for (const merchantId of ["m-globex", alice.owner.merchantId]) {
        const response = yield* postExport(token, { ...ordersBody(), merchantId })
        const body = expectError(response, "invalid_request")
        expect(issuesOf(body)).toStrictEqual([{ field: "merchantId", rule: "unknown-field" }])
      }
      const list = yield* getRaw(EXPORTS_PATH, token)
      expect((list.json as { items: ReadonlyArray<unknown> }).items).toStrictEqual([])
    }).pipe(Effect.provide(apiTestLayer())))
})

// Conditional GETs of an export's status, the export list and the notifications: an ETag that stays while the
// answer does and changes with it, 304 and no body on If-None-Match, and never one tag for two users.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { apiTestLayer, tokenFor } from "../../support/ApiHarness.js"
import { alice, bob, drainQueue } from "../../support/Fixtures.js"
import { EXPORTS_PATH, getRaw, NOTIFICATIONS_PATH, ordersBody, postEmpty, postExport } from "./HttpSupport.js"
import type { RawResponse } from "./HttpSupport.js"

/** A 200 with a tag, kept private to the caller's own cache. */
const tagged = (response: RawResponse): string => {
  expect(response.status, response.text).toBe(200)
  expect(response.headers["cache-control"]).toBe("private, no-cache")
  const etag = response.headers["etag"]
  expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/)
  return etag!
}

/** 304 with no body, naming the tag it confirms. */
const notModified = (response: RawResponse, etag: string) => {
  expect(response.status, response.text).toBe(304)
  expect(response.text).toBe("")
  expect(response.headers["etag"]).toBe(etag)
}

describe("HTTP API: ETag and If-None-Match", () => {
  it.effect("an export's status: the same tag while nothing changes, 304 on it, another once the job moves", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const { jobId } = (yield* postExport(token, ordersBody())).json as { jobId: string }
      const path = `${EXPORTS_PATH}/${jobId}`
      const queued = tagged(yield* getRaw(path, token))
      expect(tagged(yield* getRaw(path, token))).toBe(queued)
      notModified(yield* getRaw(path, token, { "if-none-match": queued }), queued)
      notModified(yield* getRaw(path, token, { "if-none-match": `"other", W/${queued}` }), queued)
      expect((yield* getRaw(path, token, { "if-none-match": "\"other\"" })).status).toBe(200)

      yield* drainQueue
      const changed = yield* getRaw(path, token, { "if-none-match": queued })
      const succeeded = tagged(changed)
      expect(succeeded).not.toBe(queued)
      expect(changed.json).toMatchObject({ jobId, status: "succeeded" })
      notModified(yield* getRaw(path, token, { "if-none-match": succeeded }), succeeded)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("the export list: 304 while it is the same, a new tag with a new export", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      yield* postExport(token, ordersBody())
      const first = tagged(yield* getRaw(EXPORTS_PATH, token))
      notModified(yield* getRaw(EXPORTS_PATH, token, { "if-none-match": first }), first)
      yield* postExport(token, ordersBody("2024-02-01"))
      const second = tagged(yield* getRaw(EXPORTS_PATH, token, { "if-none-match": first }))
      expect(second).not.toBe(first)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("the notifications: a new tag when one arrives and when one is read", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const empty = tagged(yield* getRaw(NOTIFICATIONS_PATH, token))
      notModified(yield* getRaw(NOTIFICATIONS_PATH, token, { "if-none-match": empty }), empty)
      yield* postExport(token, ordersBody())
      yield* drainQueue
      const arrived = yield* getRaw(NOTIFICATIONS_PATH, token, { "if-none-match": empty })
      const unread = tagged(arrived)
      expect(unread).not.toBe(empty)
      const [notice] = (arrived.json as { items: ReadonlyArray<{ id: string }> }).items
      expect((yield* postEmpty(`${NOTIFICATIONS_PATH}/${notice!.id}/read`, token)).status).toBe(200)
      const read = tagged(yield* getRaw(NOTIFICATIONS_PATH, token, { "if-none-match": unread }))
      expect(read).not.toBe(unread)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("two users' identical answers never share a tag: another user's tag gets the full answer", () =>
    Effect.gen(function*() {
      const aliceToken = yield* tokenFor(alice)
      const bobToken = yield* tokenFor(bob)
      for (const path of [EXPORTS_PATH, NOTIFICATIONS_PATH]) {
        const aliceAnswer = yield* getRaw(path, aliceToken)
        const bobAnswer = yield* getRaw(path, bobToken)
        expect(bobAnswer.text).toBe(aliceAnswer.text)
        const aliceTag = tagged(aliceAnswer)
        expect(tagged(bobAnswer)).not.toBe(aliceTag)
        expect(bobAnswer.headers["vary"]).toMatch(/authorization/i)
        const withAliceTag = yield* getRaw(path, bobToken, { "if-none-match": aliceTag })
        expect(withAliceTag.status).toBe(200)
        expect(withAliceTag.text).toBe(bobAnswer.text)
      }
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("is in the OpenAPI document: If-None-Match, the ETag of a 200, and the 304", () =>
    Effect.gen(function*() {
      const document = (yield* getRaw("/openapi.json")).json as {
        paths: Record<
          string,
          Record<
            string,
            { parameters: ReadonlyArray<{ name: string; in: string }>; responses: Record<string, { headers?: object }> }
          >
        >
      }
      for (const path of [`${EXPORTS_PATH}/{jobId}`, EXPORTS_PATH, NOTIFICATIONS_PATH]) {
        const operation = document.paths[path]?.["get"]
        expect(operation?.parameters, path).toContainEqual(
          expect.objectContaining({ name: "If-None-Match", in: "header" })
        )
        expect(Object.keys(operation?.responses["200"]?.headers ?? {}), path).toContain("ETag")
        expect(operation?.responses["304"], path).toBeDefined()
      }
    }).pipe(Effect.provide(apiTestLayer())))
})

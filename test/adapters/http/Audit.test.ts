// GET /api/v1/reports/exports/{jobId}/audit over the in-memory adapters: the owner's trail (the request, a cancel,
// each download link asked for), 404 for anyone else, 503 in the one error shape while the trail is down, and the
// route in the OpenAPI document.
import { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import { apiTestLayer, tokenFor } from "../../support/ApiHarness.js"
import { alice, bob, drainQueue } from "../../support/Fixtures.js"
import { expectError, EXPORTS_PATH, getRaw, ordersBody, postEmpty, postExport, send } from "./HttpSupport.js"

interface AuditItem {
  readonly action: string
  readonly actor: { readonly type: string; readonly userId?: string }
  readonly at: string
}

const auditPath = (jobId: string) => `${EXPORTS_PATH}/${jobId}/audit`

const accepted = (token: string, dateTo?: string) =>
  Effect.map(
    postExport(token, ordersBody("2024-01-01", dateTo)),
    (response) => (response.json as { jobId: string }).jobId
  )

const trailOf = (jobId: string, token: string) =>
  Effect.map(getRaw(auditPath(jobId), token), (response) => {
    expect(response.status, response.text).toBe(200)
    return (response.json as { items: ReadonlyArray<AuditItem> }).items
  })

describe("GET /api/v1/reports/exports/{jobId}/audit", () => {
  it.effect("lists the request, then each download link the owner asked for, oldest first", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const jobId = yield* accepted(token)
      yield* drainQueue
      const view = (yield* getRaw(`${EXPORTS_PATH}/${jobId}`, token)).json as { requestedAt: string }
      for (let i = 0; i < 2; i++) {
        const link = yield* getRaw(`${EXPORTS_PATH}/${jobId}/download`, token, { accept: "application/json" })
        expect(link.status, link.text).toBe(200)
      }
      const items = yield* trailOf(jobId, token)
      const byAlice = { type: "user", userId: alice.owner.userId }
      expect(items.map((item) => [item.action, item.actor])).toStrictEqual([
        ["requested", byAlice],
        ["download_link_issued", byAlice],
        ["download_link_issued", byAlice]
      ])
      expect(items[0]!.at).toBe(view.requestedAt)
      expect([...items].sort((a, b) => Date.parse(a.at) - Date.parse(b.at))).toStrictEqual(items)
    }).pipe(Effect.provide(apiTestLayer(50))))

  it.effect("records a cancel once however often it is asked, and is the owner's alone", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const jobId = yield* accepted(token, "2024-03-30")
      for (let i = 0; i < 3; i++) yield* postEmpty(`${EXPORTS_PATH}/${jobId}/cancel`, token)
      const view = (yield* getRaw(`${EXPORTS_PATH}/${jobId}`, token)).json as { finishedAt: string }
      const items = yield* trailOf(jobId, token)
      expect(items.map((item) => [item.action, item.at])).toStrictEqual([
        ["requested", expect.any(String)],
        ["cancelled", view.finishedAt]
      ])
      expectError(yield* getRaw(auditPath(jobId), yield* tokenFor(bob)), "export_not_found")
      expectError(yield* getRaw(auditPath("not-a-job"), token), "export_not_found")
    }).pipe(Effect.provide(apiTestLayer(50))))

  it.effect("answers 503 audit_unavailable while the trail is down, and gives no download link then", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const jobId = yield* accepted(token)
      yield* drainQueue
      yield* (yield* FaultInjection).set({ audit: true })
      expectError(yield* getRaw(auditPath(jobId), token), "audit_unavailable")
      const download = yield* getRaw(`${EXPORTS_PATH}/${jobId}/download`, token)
      expectError(download, "audit_unavailable")
      expect(download.headers["location"]).toBe(undefined)
    }).pipe(Effect.provide(apiTestLayer(50))))

  it.effect("is in the OpenAPI document with its answers", () =>
    Effect.gen(function*() {
      const document = (yield* send(HttpClientRequest.get("/openapi.json"))).json as {
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
      }
      const audit = document.paths["/api/v1/reports/exports/{jobId}/audit"]?.["get"]
      expect(Object.keys(audit?.responses ?? {}).sort()).toEqual(expect.arrayContaining(["200", "404", "503"]))
    }).pipe(Effect.provide(apiTestLayer(50))))
})

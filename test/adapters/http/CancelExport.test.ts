// POST /api/v1/reports/exports/{jobId}/cancel over the in-memory adapters: the owner's cancel in each state, its
// errors in the one shape, and its place in the OpenAPI document.
import { HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { apiTestLayer, tokenFor } from "../../support/ApiHarness.js"
import { alice, bob, drainQueue } from "../../support/Fixtures.js"
import { expectError, EXPORTS_PATH, getRaw, ordersBody, postEmpty, postExport, send } from "./HttpSupport.js"

const cancelPath = (jobId: string) => `${EXPORTS_PATH}/${jobId}/cancel`

const accepted = (token: string) =>
  Effect.map(postExport(token, ordersBody()), (response) => (response.json as { jobId: string }).jobId)

describe("POST /api/v1/reports/exports/{jobId}/cancel", () => {
  it.effect("cancels a queued export, answers its view again when repeated, and 404s for another owner", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const jobId = yield* accepted(token)
      expectError(yield* postEmpty(cancelPath(jobId), yield* tokenFor(bob)), "export_not_found")
      const first = yield* postEmpty(cancelPath(jobId), token)
      expect(first.status, first.text).toBe(200)
      expect((first.json as { status: string }).status).toBe("cancelled")
      const again = yield* postEmpty(cancelPath(jobId), token)
      expect([again.status, (again.json as { status: string }).status]).toStrictEqual([200, "cancelled"])
      const notices = (yield* getRaw("/api/v1/notifications", token)).json as {
        items: ReadonlyArray<{ kind: string; title: string }>
      }
      expect(notices.items.map((notice) => [notice.kind, notice.title])).toStrictEqual([
        ["export_cancelled", "Export cancelled"]
      ])
    }).pipe(Effect.provide(apiTestLayer(50))))

  it.effect("answers 409 export_finished for a finished export", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const jobId = yield* accepted(token)
      yield* drainQueue
      expectError(yield* postEmpty(cancelPath(jobId), token), "export_finished")
      expectError(yield* postEmpty(cancelPath("not-a-job"), token), "export_not_found")
    }).pipe(Effect.provide(apiTestLayer(50))))

  it.effect("is in the OpenAPI document with its errors, and running exports show their progress", () =>
    Effect.gen(function*() {
      const document = (yield* send(HttpClientRequest.get("/openapi.json"))).json as {
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
        components: { schemas: Record<string, { properties?: Record<string, unknown> }> }
      }
      const cancel = document.paths["/api/v1/reports/exports/{jobId}/cancel"]?.["post"]
      expect(Object.keys(cancel?.responses ?? {}).sort()).toEqual(expect.arrayContaining(["200", "404", "409"]))
      expect(Object.keys(document.components.schemas["ExportView"]?.properties ?? {})).toContain("progress")
    }).pipe(Effect.provide(apiTestLayer(50))))
})

// The documents and probes served beside the API: open without a token, and the OpenAPI document describes what
// the API answers, security included.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { IDEMPOTENCY_WINDOW } from "../../../src/domain/ExportJob.js"
import { apiTestLayer, clientFor } from "../../support/ApiHarness.js"
import { alice } from "../../support/Fixtures.js"
import { getRaw } from "./HttpSupport.js"

interface Operation {
  readonly description?: string
  readonly security?: ReadonlyArray<Record<string, ReadonlyArray<string>>>
  readonly responses: Record<string, unknown>
}

interface OpenApiDocument {
  readonly openapi: string
  readonly paths: Record<string, Record<string, Operation>>
  readonly components: { readonly securitySchemes?: Record<string, { type: string; scheme?: string }> }
}

const protectedOperations = [
  ["/api/v1/reports/export", "post"],
  ["/api/v1/reports/exports", "get"],
  ["/api/v1/reports/exports/{jobId}", "get"],
  ["/api/v1/reports/exports/{jobId}/download", "get"],
  ["/api/v1/notifications", "get"],
  ["/api/v1/notifications/{notificationId}/read", "post"]
] as const

describe("HTTP API: documents and probes", () => {
  it.effect("serves /openapi.json without a token, as JSON, with the 202 of an export", () =>
    Effect.gen(function*() {
      const response = yield* getRaw("/openapi.json")
      expect(response.status).toBe(200)
      expect(response.headers["content-type"]).toMatch(/^application\/json/)
      const document = JSON.parse(response.text) as OpenApiDocument
      expect(document.openapi).toMatch(/^3\./)
      const post = document.paths["/api/v1/reports/export"]?.["post"]
      expect(post?.responses["202"]).toBeDefined()
      expect(post?.responses["200"]).toBeUndefined()
      expect(JSON.stringify(post?.responses["202"])).toContain("ExportAccepted")
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("declares bearer security on every data endpoint, and none on the probes", () =>
    Effect.gen(function*() {
      const document = (yield* getRaw("/openapi.json")).json as OpenApiDocument
      const schemes = Object.entries(document.components.securitySchemes ?? {})
      const bearer = schemes.filter(([, scheme]) => scheme.type === "http" && scheme.scheme === "bearer")
      expect(bearer).toHaveLength(1)
      const [bearerName] = bearer[0]!
      for (const [path, method] of protectedOperations) {
        const operation = document.paths[path]?.[method]
        expect(operation, `${method} ${path}`).toBeDefined()
        expect(operation?.security, `${method} ${path}`).toContainEqual({ [bearerName]: [] })
      }
      for (const path of ["/health", "/ready"]) {
        expect(document.paths[path]?.["get"]?.security ?? []).toStrictEqual([])
      }
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("declares the error statuses of an export request and of a download", () =>
    Effect.gen(function*() {
      const document = (yield* getRaw("/openapi.json")).json as OpenApiDocument
      const post = document.paths["/api/v1/reports/export"]?.["post"]
      expect(Object.keys(post?.responses ?? {})).toEqual(
        expect.arrayContaining(["202", "400", "401", "409", "413", "415", "503"])
      )
      const download = document.paths["/api/v1/reports/exports/{jobId}/download"]?.["get"]
      expect(Object.keys(download?.responses ?? {})).toEqual(
        expect.arrayContaining(["200", "401", "404", "409", "410"])
      )
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("tells each report's longest range, as the catalogue declares it, beside the export request", () =>
    Effect.gen(function*() {
      const document = (yield* getRaw("/openapi.json")).json as OpenApiDocument
      expect(document.paths["/api/v1/reports/export"]?.["post"]?.description).toContain(
        "Dates are YYYY-MM-DD, both included, in `timezone` (IANA, default UTC). Ranges are limited: orders to 366 " +
          "days, sales-trend and top-products to 1098 days."
      )
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("tells how long an Idempotency-Key names the same export, as long as the store keeps it", () =>
    Effect.gen(function*() {
      const document = (yield* getRaw("/openapi.json")).json as OpenApiDocument
      expect(document.paths["/api/v1/reports/export"]?.["post"]?.description).toContain(
        `The same Idempotency-Key within ${IDEMPOTENCY_WINDOW} answers with the same job; a different body under ` +
          "that key is a 409."
      )
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("serves the /docs page as HTML without a token", () =>
    Effect.gen(function*() {
      const response = yield* getRaw("/docs")
      expect(response.status).toBe(200)
      expect(response.headers["content-type"]).toMatch(/^text\/html/)
      expect(response.text).toMatch(/<html/i)
      expect(response.text).toContain("async-data-export")
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("answers /health with 200 without a token", () =>
    Effect.gen(function*() {
      const response = yield* getRaw("/health")
      expect(response.status).toBe(200)
      expect(response.json).toStrictEqual({ status: "ok" })
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("answers /ready with 200 when no check fails, and the typed client agrees", () =>
    Effect.gen(function*() {
      const response = yield* getRaw("/ready")
      expect(response.status).toBe(200)
      expect(response.json).toMatchObject({ status: "ready" })
      const client = yield* clientFor(alice)
      expect((yield* client.health.ready()).status).toBe("ready")
      expect((yield* client.health.health()).status).toBe("ok")
    }).pipe(Effect.provide(apiTestLayer())))
})

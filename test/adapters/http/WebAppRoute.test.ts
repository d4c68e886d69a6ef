// The built web app served beside the API (ADR 36), from a fixture build made here: hashed assets cached for a year,
// index.html revalidated and answered for the app's routes, the Content-Security-Policy and its companions, JSON 404s
// kept for the server's own paths, no way out of the directory, and a plain answer when nothing is built.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as JwtAuthentication from "../../../src/adapters/auth/JwtAuthentication.js"
import * as JwtVerifier from "../../../src/adapters/auth/JwtVerifier.js"
import * as ApiNodeServer from "../../../src/adapters/http/ApiNodeServer.js"
import * as ApiServer from "../../../src/adapters/http/ApiServer.js"
import { ReadinessChecks } from "../../../src/adapters/http/HealthHttp.js"
import * as WebAppRoute from "../../../src/adapters/http/WebAppRoute.js"
import { CONTENT_SECURITY_POLICY, safeSegments } from "../../../src/adapters/http/WebAppRoute.js"
import { testJwtSettings, tokenFor } from "../../support/ApiHarness.js"
import { alice, testLayer } from "../../support/Fixtures.js"
import { rawRequest, serverPort } from "../../support/LoopbackServer.js"
import type { HostResponse } from "../../support/LoopbackServer.js"
import { fixtureBuild, INDEX, SCRIPT, STYLE } from "../../support/WebAppBuild.js"

/** The API with the web app in `root`, on a free loopback port, as the Node runtimes compose it. */
const serverWith = (root: string) =>
  ApiServer.layer.pipe(
    Layer.provide(WebAppRoute.layer({ root })),
    Layer.provideMerge(ApiNodeServer.layerServerTest),
    Layer.provide(JwtAuthentication.layer),
    Layer.provide(JwtVerifier.layer(testJwtSettings)),
    Layer.provide(ReadinessChecks.none),
    Layer.provideMerge(testLayer(5))
  )

const withBuild = <A, E, R>(test: (root: string) => Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.flatMap(fixtureBuild, ({ root }) => test(root).pipe(Effect.provide(serverWith(root)))))

/** GET `path` exactly as written (no client normalises `..` away), with `headers`. */
const rawGet = (path: string, headers: Record<string, string> = {}) =>
  Effect.flatMap(serverPort, (port) => rawRequest(port, "GET", path, headers))

const PAGE = { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" }

const expectSecurityHeaders = (response: HostResponse) => {
  expect(response.headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY)
  expect(response.headers["x-content-type-options"]).toBe("nosniff")
  expect(response.headers["referrer-policy"]).toBe("no-referrer")
  expect(response.headers["x-frame-options"]).toBe("DENY")
}

const expectIndex = (response: HostResponse) => {
  expect(response.status).toBe(200)
  expect(response.text).toBe(INDEX)
  expect(response.headers["content-type"]).toBe("text/html; charset=utf-8")
  expect(response.headers["cache-control"]).toBe("no-cache")
  expect(response.headers["etag"]).toMatch(/^"[A-Za-z0-9_-]+"$/)
  expectSecurityHeaders(response)
}

const expectJsonNotFound = (response: HostResponse, path: string) => {
  expect(response.status, path).toBe(404)
  expect(response.headers["content-type"], path).toMatch(/^application\/json/)
  expect((JSON.parse(response.text) as { error: unknown }).error).toStrictEqual({
    code: "not_found",
    message: `No route for GET ${path}.`
  })
}

describe("the web app beside the API", () => {
  it.effect("/ and the app's routes are index.html, revalidated by its ETag, under the Content-Security-Policy", () =>
    withBuild(() =>
      Effect.gen(function*() {
        const index = yield* rawGet("/", PAGE)
        expectIndex(index)
        for (
          const path of ["/index.html", "/exports", "/exports/01900000-0000-7000-8000-000000000001", "/exports?x=1"]
        ) {
          expectIndex(yield* rawGet(path, PAGE))
        }
        // A client that takes anything gets the page too; the same page again is a 304 with no body.
        expectIndex(yield* rawGet("/exports", { accept: "*/*" }))
        const again = yield* rawGet("/", { ...PAGE, "if-none-match": index.headers["etag"] as string })
        expect(again.status).toBe(304)
        expect(again.text).toBe("")
      })
    ))

  it.effect("the CSP allows this origin's files only: no inline script or style, no framing, no plugin", () =>
    Effect.sync(() => {
      const directives: Record<string, string> = Object.fromEntries(
        CONTENT_SECURITY_POLICY.split("; ").map((directive) => [directive.split(" ")[0]!, directive])
      )
      expect(directives).toStrictEqual({
        "default-src": "default-src 'self'",
        "script-src": "script-src 'self'",
        "style-src": "style-src 'self'",
        "img-src": "img-src 'self' data:",
        "connect-src": "connect-src 'self'",
        "frame-ancestors": "frame-ancestors 'none'",
        "base-uri": "base-uri 'self'",
        "form-action": "form-action 'self'",
        "object-src": "object-src 'none'"
      })
      expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|\*/)
    }))

  it.effect("hashed assets are cached for a year as immutable, each with its content type", () =>
    withBuild(() =>
      Effect.gen(function*() {
        const cases = [
          ["/assets/index-3f9a1c.js", "text/javascript; charset=utf-8", SCRIPT],
          ["/assets/index-77be20.css", "text/css; charset=utf-8", STYLE],
          ["/assets/inter-latin-400.woff2", "font/woff2", "wOF2"],
          ["/assets/data-5e1d.bin", "application/octet-stream", "\u0001\u0002\u0003"]
        ] as const
        for (const [path, type, body] of cases) {
          const response = yield* rawGet(path, { accept: "*/*" })
          expect(response.status, path).toBe(200)
          expect(response.headers["content-type"], path).toBe(type)
          expect(response.headers["cache-control"], path).toBe("public, max-age=31536000, immutable")
          expect(response.headers["content-length"], path).toBe(String(Buffer.byteLength(body)))
          expect(response.text, path).toBe(body)
          expectSecurityHeaders(response)
        }
        // Unhashed files at the top of the build are revalidated.
        const icon = yield* rawGet("/favicon.svg", PAGE)
        expect([icon.status, icon.headers["content-type"], icon.headers["cache-control"]]).toStrictEqual([
          200,
          "image/svg+xml",
          "no-cache"
        ])
        // A missing asset is a 404, never the page, even for a browser asking for one.
        expectJsonNotFound(yield* rawGet("/assets/index-000000.js", PAGE), "/assets/index-000000.js")
      })
    ))

  it.effect("the server's own paths keep answering, and an unknown one under them is a JSON 404", () =>
    withBuild(() =>
      Effect.gen(function*() {
        expect((yield* rawGet("/health", PAGE)).text).toBe("{\"status\":\"ok\"}")
        expect((yield* rawGet("/ready")).status).toBe(200)
        const docs = yield* rawGet("/docs", PAGE)
        expect(docs.status).toBe(200)
        expect(docs.text).toContain("swagger")
        const openApi = JSON.parse((yield* rawGet("/openapi.json")).text) as { readonly openapi: string }
        expect(openApi.openapi).toMatch(/^3\./)
        const token = yield* tokenFor(alice)
        const exports = yield* rawGet("/api/v1/reports/exports", { ...PAGE, authorization: `Bearer ${token}` })
        expect(exports.status).toBe(200)
        expect(JSON.parse(exports.text)).toStrictEqual({ items: [] })
        for (
          const path of [
            "/api",
            "/api/v2/anything",
            "/api/v1/reports/exports/01900000-0000-7000-8000-000000000001/nothing",
            "/files/exports/x.csv",
            "/dev/outbox",
            "/assets",
            "/docs/more",
            "/health/deep"
          ]
        ) {
          expectJsonNotFound(yield* rawGet(path, PAGE), path)
        }
        // A request for data, not a page, gets no page.
        expectJsonNotFound(yield* rawGet("/exports", { accept: "application/json" }), "/exports")
        expectJsonNotFound(yield* rawGet("/exports"), "/exports")
      })
    ))

  it.effect("no path leaves the directory: .., encoded .., encoded separators, absolute paths, links", () =>
    withBuild(() =>
      Effect.gen(function*() {
        const attempts = [
          "/assets/../../secret.txt",
          "/assets/%2e%2e/%2e%2e/secret.txt",
          "/assets/%2E%2E%2F%2E%2E%2Fsecret.txt",
          "/assets/..%2f..%2fsecret.txt",
          "/assets/..%5c..%5csecret.txt",
          "/../secret.txt",
          "/%2e%2e/secret.txt",
          "/..%2fsecret.txt",
          "//etc/passwd",
          "/assets//etc/passwd",
          "/assets/%2Fetc%2Fpasswd",
          "/%2Fetc%2Fpasswd",
          "/assets/index-3f9a1c.js%00.txt",
          "/assets/%",
          "/assets/leak.txt"
        ]
        for (const path of attempts) {
          for (const headers of [PAGE, { accept: "*/*" }, {}]) {
            const response = yield* rawGet(path, headers)
            expect(response.status, path).toBe(404)
            expect(response.text, path).not.toContain("TOP SECRET")
            expect(response.text, path).not.toContain("root:")
          }
        }
        expect(safeSegments("/assets/a%2Fb")).toBeUndefined()
        expect(safeSegments("/assets/index-3f9a1c.js")).toStrictEqual(["assets", "index-3f9a1c.js"])
      })
    ))

  it.effect("with no build, / says so in a short plain page, and the API is unaffected", () =>
    Effect.gen(function*() {
      const page = yield* rawGet("/", PAGE)
      expect(page.status).toBe(404)
      expect(page.headers["content-type"]).toBe("text/plain; charset=utf-8")
      expect(page.text).toMatch(/^The web app is not built here/)
      expect(page.text).toContain("/docs")
      expect((yield* rawGet("/exports", PAGE)).status).toBe(404)
      expectJsonNotFound(yield* rawGet("/assets/index-3f9a1c.js"), "/assets/index-3f9a1c.js")
      expect((yield* rawGet("/health")).status).toBe(200)
    }).pipe(Effect.provide(serverWith("/nonexistent/web/dist"))))
})

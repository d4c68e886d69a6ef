// The web app in the `npm start` composition (ADR 36): a build in WEB_APP_DIR served at / beside the API, the signed
// file links and the development pages, which keep their own answers; and where WEB_APP_DIR points by default.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { CONTENT_SECURITY_POLICY } from "../../../src/adapters/http/WebAppRoute.js"
import { embeddedConfig } from "../../../src/runtimes/server/EmbeddedConfig.js"
import { embeddedServerIn } from "../../support/EmbeddedInProcess.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"
import { fixtureBuild, INDEX, SCRIPT } from "../../support/WebAppBuild.js"

const REPOSITORY = resolve(fileURLToPath(new URL("../../..", import.meta.url)))

const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    fetch(url, { headers }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }))
  )

describe("npm start composition: the web app", () => {
  it.scopedLive(
    "serves the build at / and the app's routes, beside the API and the development pages",
    () =>
      Effect.gen(function*() {
        const { root } = yield* fixtureBuild
        const dataDir = join(yield* temporaryDataDir("ade-embedded-web-"), "data")
        const { base } = yield* embeddedServerIn(dataDir, 1000, { webAppDir: root })
        const page = { accept: "text/html" }
        for (const path of ["/", "/exports", "/exports/01900000-0000-7000-8000-000000000001"]) {
          const response = yield* get(`${base}${path}`, page)
          expect(response.status, path).toBe(200)
          expect(response.text, path).toBe(INDEX)
          expect(response.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY)
          expect(response.headers.get("cache-control")).toBe("no-cache")
        }
        const script = yield* get(`${base}/assets/index-3f9a1c.js`)
        expect([script.status, script.text, script.headers.get("cache-control")]).toStrictEqual([
          200,
          SCRIPT,
          "public, max-age=31536000, immutable"
        ])
        const unknownApi = yield* get(`${base}/api/v1/nothing`, page)
        expect(unknownApi.status).toBe(404)
        expect(JSON.parse(unknownApi.text)).toMatchObject({ error: { code: "not_found" } })
        const outbox = yield* get(`${base}/dev/outbox`, page)
        expect(outbox.status).toBe(200)
        expect(outbox.text).toContain("<h1>Outbox</h1>")
        const link = yield* get(`${base}/files/exports/m-acme/nothing.csv?expires=1&signature=x`, page)
        expect(link.status).toBe(403)
        expect((yield* get(`${base}/ready`)).status).toBe(200)
      }),
    { timeout: 60_000 }
  )

  it.effect("WEB_APP_DIR is the repository's web/dist unless set, and resolved against the working directory", () =>
    Effect.gen(function*() {
      const byDefault = yield* embeddedConfig
      expect(byDefault.webAppDir).toBe(join(REPOSITORY, "web", "dist"))
      const set = yield* embeddedConfig.pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["WEB_APP_DIR", "build/app"]])))
      )
      expect(set.webAppDir).toBe(resolve("build/app"))
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))))
})

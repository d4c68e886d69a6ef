// The web app's address the links of emails are built on: APP_BASE_URL, read as the deploy guide describes it.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit } from "effect"
import * as HttpExportLinks from "../../../src/adapters/http/HttpExportLinks.js"
import { DEFAULT_APP_BASE_URL } from "../../../src/adapters/http/HttpExportLinks.js"
import { ExportLinks } from "../../../src/application/ports/ExportLinks.js"
import { ExportJobId } from "../../../src/domain/Identifiers.js"

const JOB_ID = ExportJobId.make("01890a5d-ac96-774b-bcce-b302099a8057")

/** The app page of JOB_ID from the links `HttpExportLinks.layerConfig` builds over `settings`. */
const appPageWith = (settings: Record<string, string>, layer = HttpExportLinks.layerConfig) =>
  Effect.map(ExportLinks, (links) => links.appPage(JOB_ID)).pipe(
    Effect.provide(layer),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(settings)))),
    Effect.exit
  )

describe("HttpExportLinks", () => {
  it.effect("links an export to its page under APP_BASE_URL, with or without a trailing slash", () =>
    Effect.gen(function*() {
      for (const base of ["https://app.example.com", "https://app.example.com/"]) {
        expect(yield* appPageWith({ APP_BASE_URL: base })).toStrictEqual(
          Exit.succeed(`https://app.example.com/exports/${JOB_ID}`)
        )
      }
    }))

  it.effect("takes the default when APP_BASE_URL is unset, or the fallback a runtime gives", () =>
    Effect.gen(function*() {
      expect(yield* appPageWith({})).toStrictEqual(Exit.succeed(`${DEFAULT_APP_BASE_URL}/exports/${JOB_ID}`))
      const embedded = HttpExportLinks.layerConfigWithDefault("http://127.0.0.1:8080")
      expect(yield* appPageWith({}, embedded)).toStrictEqual(Exit.succeed(`http://127.0.0.1:8080/exports/${JOB_ID}`))
      expect(yield* appPageWith({ APP_BASE_URL: "https://app.example.com" }, embedded)).toStrictEqual(
        Exit.succeed(`https://app.example.com/exports/${JOB_ID}`)
      )
    }))

  it.effect("refuses a malformed APP_BASE_URL at start-up, naming it", () =>
    Effect.gen(function*() {
      const exit = yield* appPageWith({ APP_BASE_URL: "not a url" })
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain("APP_BASE_URL")
    }))
})

// The audit trail on the npm start composition, over HTTP: the embedded file store serves its own signed links, so a
// use of one, the e-mail's included, is in the export's trail (by `signed_link`), beside the request and the link its
// owner asked for through the API; a link that does not verify records nothing.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { readEml } from "../../adapters/eml/EmlSupport.js"
import { embeddedServerIn, embeddedTokenFor } from "../../support/EmbeddedInProcess.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"
import { withTamperedSignature } from "../../support/Tampering.js"

describe("the audit trail on the npm start composition (chdb)", () => {
  it.scopedLive(
    "records the request, the link asked for, and every use of a signed link, the e-mail's too",
    () =>
      Effect.gen(function*() {
        const dataDir = join(yield* temporaryDataDir("ade-audit-"), "data")
        const { base } = yield* embeddedServerIn(dataDir, 20_000)
        const token = yield* embeddedTokenFor(dataDir, "audit-user", "a@example.com")
        const auth = { authorization: `Bearer ${token}` }
        const json = <A>(path: string, init: RequestInit = {}) =>
          Effect.promise(() =>
            fetch(`${base}${path}`, { ...init, headers: { ...auth, ...init.headers } }).then(async (response) => ({
              status: response.status,
              body: await response.json() as A
            }))
          )

        const { body: accepted } = yield* json<{ jobId: string; statusUrl: string }>("/api/v1/reports/export", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ reportType: "orders", format: "csv", dateFrom: "2025-01-01", dateTo: "2025-01-31" })
        })
        for (let i = 0; i < 150; i++) {
          if ((yield* json<{ status: string }>(accepted.statusUrl)).body.status === "succeeded") break
          yield* Effect.sleep("100 millis")
        }
        const { body: link } = yield* json<{ url: string }>(`${accepted.statusUrl}/download`, {
          headers: { accept: "application/json" }
        })
        const served = yield* Effect.promise(() => fetch(link.url))
        expect(served.status).toBe(200)
        yield* Effect.promise(() => served.arrayBuffer())
        // A tampered link is refused and records nothing.
        const tampered = yield* Effect.promise(() => fetch(withTamperedSignature(link.url)))
        expect(tampered.status).toBe(403)

        // The e-mail's 24-hour link: sent just after the job was recorded Succeeded, so it may still be on its way.
        const outbox = join(dataDir, "outbox")
        const emails = () => existsSync(outbox) ? readdirSync(outbox).filter((name) => name.endsWith(".eml")) : []
        for (let i = 0; i < 100 && emails().length === 0; i++) yield* Effect.sleep("100 millis")
        const text = (yield* readEml(readFileSync(join(outbox, emails()[0]!), "utf8"))).text
        const emailed = /(http:\/\/127\.0\.0\.1:\d+\/files\/\S+)/.exec(text ?? "")?.[1]
        expect(emailed, text).toBeDefined()
        const fromEmail = yield* Effect.promise(() => fetch(emailed!))
        expect(fromEmail.status).toBe(200)
        yield* Effect.promise(() => fromEmail.arrayBuffer())

        const trail = yield* json<{ items: ReadonlyArray<{ action: string; actor: { type: string } }> }>(
          `${accepted.statusUrl}/audit`
        )
        expect(trail.status).toBe(200)
        expect(trail.body.items.map((item) => [item.action, item.actor.type])).toStrictEqual([
          ["requested", "user"],
          ["download_link_issued", "user"],
          ["file_downloaded", "signed_link"],
          ["file_downloaded", "signed_link"]
        ])
      }),
    { timeout: 60_000 }
  )
})

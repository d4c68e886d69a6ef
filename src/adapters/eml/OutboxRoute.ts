// A development-only page listing the emails the embedded default "sent" (written to its outbox folder).
// It shows full addresses and message bodies, so it is composed only into the embedded server, and only when that
// listens on loopback; each page checks the Host header against DNS rebinding.
import { HttpApiBuilder, HttpRouter, HttpServerResponse } from "@effect/platform"
import { DateTime, Effect } from "effect"
import type { AllowedHosts } from "../http/AllowedHosts.js"
import { forAllowedHosts } from "../http/AllowedHosts.js"
import { currentErrorResponse } from "../http/ApiErrors.js"
import { EmlOutbox } from "./EmlEmailSender.js"

const escapeHtml = (text: string): string =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("\"", "&quot;")

/** `/dev/outbox` and its messages, answered only to requests whose Host is one of `hosts`. */
export const layer = (hosts: AllowedHosts) =>
  HttpApiBuilder.Router.use((router) =>
    Effect.gen(function*() {
      const outbox = yield* EmlOutbox
      const guarded = forAllowedHosts(hosts)
      yield* router.get(
        "/dev/outbox",
        guarded(Effect.gen(function*() {
          const entries = yield* outbox.listOutbox(100)
          const rows = entries.map((entry) =>
            `<tr><td>${escapeHtml(DateTime.formatIso(entry.date))}</td><td>${escapeHtml(entry.to)}</td>` +
            `<td><a href="/dev/outbox/${encodeURIComponent(entry.file)}">${escapeHtml(entry.subject)}</a></td>` +
            `<td>${escapeHtml(entry.jobId ?? "")}</td></tr>`
          ).join("\n")
          return HttpServerResponse.html(
            `<!doctype html><html><head><meta charset="utf-8"><title>Outbox (development)</title></head><body>` +
              `<h1>Outbox</h1><p>Emails written by the embedded server to ${escapeHtml(outbox.outbox)}.</p>` +
              `<table><thead><tr><th>Date</th><th>To</th><th>Subject</th><th>Job</th></tr></thead>` +
              `<tbody>${rows}</tbody></table></body></html>`
          )
        }))
      )
      yield* router.get(
        "/dev/outbox/:file",
        guarded(Effect.gen(function*() {
          const { file } = yield* HttpRouter.params
          return yield* outbox.readMessage(file ?? "").pipe(
            Effect.map((eml) => HttpServerResponse.text(eml, { contentType: "message/rfc822" })),
            Effect.catchTag("OutboxMessageNotFound", () => currentErrorResponse(404, "not_found", "No such email."))
          )
        }))
      )
    })
  )

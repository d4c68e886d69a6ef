// An .eml outbox in a fresh directory under the system's temp folder, removed with the layer, and the test's own
// view of it: every message, parsed apart from the adapter.
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as NodePath from "node:path"
import { EmlEmailSender } from "../../../src/adapters/eml/EmlEmailSender.js"
import type { SentMail } from "../../contracts/EmailSenderContract.js"
import { decodeEncodedWords, parseEml, partOf, withLf } from "./EmlParser.js"

/** A directory that lives as long as the scope. */
export const temporaryDirectory = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(NodePath.join(tmpdir(), prefix))),
    (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
  )

export const FROM = "Exports <exports@example.test>"

export const emlEmailSenderInTempDir = () =>
  Layer.unwrapScoped(
    Effect.map(temporaryDirectory("eml-outbox-"), (outbox) => EmlEmailSender.layer({ outbox, from: FROM }))
  )

/** Every message of the outbox, oldest first, as a mailbox would show it. */
export const sentMail = Effect.gen(function*() {
  const sender = yield* EmlEmailSender
  const entries = yield* sender.listOutbox(Number.MAX_SAFE_INTEGER)
  return yield* Effect.forEach(
    [...entries].reverse(),
    (entry) =>
      Effect.map(Effect.orDie(sender.readMessage(entry.file)), (text): SentMail => {
        const eml = parseEml(text)
        return {
          to: [eml.headers.get("to") ?? ""],
          subject: decodeEncodedWords(eml.headers.get("subject") ?? ""),
          text: withLf(partOf(eml, "text/plain")?.body ?? ""),
          html: withLf(partOf(eml, "text/html")?.body ?? "")
        }
      })
  )
})

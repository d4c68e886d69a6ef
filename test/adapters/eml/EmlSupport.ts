// An .eml outbox in a fresh directory under the system's temp folder, removed with the layer, and the test's own
// view of it: every message as mailparser reads it, apart from the adapter.
import { Effect, Layer } from "effect"
import type { AddressObject, ParsedMail } from "mailparser"
import { simpleParser } from "mailparser"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as NodePath from "node:path"
import * as EmlEmailSender from "../../../src/adapters/eml/EmlEmailSender.js"
import { EmlOutbox } from "../../../src/adapters/eml/EmlEmailSender.js"
import type { SentMail } from "../../contracts/EmailSenderContract.js"

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

/**
 * One message as a mail reader sees it. mailparser would make a text part out of the HTML (and the reverse) when
 * one is missing: that is turned off, so `text` and `html` are the parts the file holds, or undefined.
 */
export const readEml = (eml: string): Effect.Effect<ParsedMail> =>
  Effect.promise(() => simpleParser(eml, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true }))

/** The addresses of an address header (To, From), as mailparser decoded them. */
export const addressesOf = (header: AddressObject | Array<AddressObject> | undefined) =>
  (header === undefined ? [] : ([] as Array<AddressObject>).concat(header)).flatMap((object) =>
    object.value.map((address) => ({ name: address.name, address: address.address }))
  )

/** Every message of the outbox, oldest first, as a mailbox would show it. */
export const sentMail = Effect.gen(function*() {
  const sender = yield* EmlOutbox
  const entries = yield* sender.listOutbox(Number.MAX_SAFE_INTEGER)
  return yield* Effect.forEach(
    [...entries].reverse(),
    (entry) =>
      Effect.flatMap(Effect.orDie(sender.readMessage(entry.file)), readEml).pipe(
        Effect.map((mail): SentMail => ({
          to: addressesOf(mail.to).map((address) => address.address ?? ""),
          subject: mail.subject ?? "",
          text: mail.text ?? "",
          html: mail.html === false ? "" : mail.html ?? ""
        }))
      )
  )
})

// The .eml files as a mail client reads them (mailparser here): MIME structure, encoded subjects, the job header,
// the Effect clock's date; and the outbox as the development page lists it.
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Logger, Redacted, TestClock } from "effect"
import type { StructuredHeader } from "mailparser"
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import * as NodePath from "node:path"
import * as EmlEmailSender from "../../../src/adapters/eml/EmlEmailSender.js"
import { EmlOutbox } from "../../../src/adapters/eml/EmlEmailSender.js"
import { EmailSender } from "../../../src/application/ports/EmailSender.js"
import type { EmailMessage } from "../../../src/application/ports/EmailSender.js"
import { EmailAddress } from "../../../src/domain/Identifiers.js"
import { jobIdAt, uniqueSuffix } from "../../contracts/ContractSupport.js"
import { allPrivate, modesUnder } from "../../support/FileModes.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import { addressesOf, emlEmailSenderInTempDir, FROM, readEml, temporaryDirectory } from "./EmlSupport.js"

const START = Date.parse("2024-05-06T07:08:09.010Z")

const withSender = <A, E>(test: Effect.Effect<A, E, EmailSender | EmlOutbox>) =>
  Effect.provide(test, emlEmailSenderInTempDir())

const messageTo = (recipient: string, subject: string): EmailMessage => ({
  to: Redacted.make(EmailAddress.make(recipient)),
  subject,
  text: "Your export is ready.\n\nDownload it: https://example.com/exports/1\n",
  html: "<p>Your export is <strong>ready</strong>.</p>\n<p><a href=\"https://example.com/exports/1\">Download</a></p>",
  jobId: jobIdAt(START)
})

/** Sends one message and returns the raw text of the file it became. */
const sendAndRead = (message: EmailMessage) =>
  Effect.gen(function*() {
    const outbox = yield* EmlOutbox
    yield* (yield* EmailSender).send(message)
    const [newest] = yield* outbox.listOutbox(1)
    return yield* outbox.readMessage(newest!.file)
  })

describe("EmlEmailSender", () => {
  it.effect("writes a MIME multipart/alternative message with the text and HTML parts", () =>
    withSender(Effect.gen(function*() {
      yield* TestClock.setTime(START)
      const recipient = `alice-${uniqueSuffix()}@example.com`
      const message = messageTo(recipient, "Your export is ready")
      const text = yield* sendAndRead(message)

      // Every line ends with CRLF and stays within RFC 5322's 998 characters.
      expect(text.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/)
      expect(Math.max(...text.split("\r\n").map((line) => line.length))).toBeLessThanOrEqual(998)

      const mail = yield* readEml(text)
      expect(addressesOf(mail.from)).toEqual([{ name: "Exports", address: "exports@example.test" }])
      expect(addressesOf(mail.to)).toEqual([{ name: "", address: recipient }])
      expect(mail.subject).toBe("Your export is ready")
      // The Effect clock's time, to the second (an RFC 5322 date has no milliseconds).
      expect(mail.date?.toISOString()).toBe("2024-05-06T07:08:09.000Z")
      expect(mail.messageId).toMatch(/^<[^<>@\s]+@example\.test>$/)
      expect(mail.headers.get("mime-version")).toBe("1.0")
      expect(mail.headers.get("x-export-job-id")).toBe(message.jobId)
      // mailparser gives a Content-Type as its value and parameters.
      const contentType = mail.headers.get("content-type") as StructuredHeader | undefined
      expect(contentType?.value).toBe("multipart/alternative")
      expect(contentType?.params["boundary"]).toMatch(/^\S+$/)

      // Both parts, as written, and nothing else; the HTML part last, as the one readers prefer.
      expect(mail.text).toBe(message.text)
      expect(mail.html).toBe(message.html)
      expect(mail.attachments).toEqual([])
      const plainAt = text.search(/^Content-Type: text\/plain; charset="?utf-8"?\r$/im)
      const htmlAt = text.search(/^Content-Type: text\/html; charset="?utf-8"?\r$/im)
      expect(plainAt).toBeGreaterThan(0)
      expect(htmlAt).toBeGreaterThan(plainAt)
    })))

  it.effect("a subject that is not ASCII is encoded per RFC 2047 and decodes back", () =>
    withSender(Effect.gen(function*() {
      const subjects = [
        "Votre export « Commandes, T1 » est prêt ✅",
        // Long enough for several encoded-words, with characters of 2, 3 and 4 bytes at every offset.
        "Экспорт готов — 注文一覧 📦 ".repeat(8),
        // ASCII that looks like an encoded-word must not be read as one.
        "Report =?UTF-8?B?SGk=?= ready",
        "Line\r\nBcc: someone@example.com"
      ]
      for (const subject of subjects) {
        const mail = yield* readEml(yield* sendAndRead(messageTo("bob@example.com", subject)))
        const raw = mail.headerLines.find((header) => header.key === "subject")?.line ?? ""
        // Only printable ASCII in the file, the text carried by encoded-words of at most 75 characters.
        expect(raw).toMatch(/^Subject: [\x20-\x7e]*(\r\n[ \t][\x20-\x7e]*)*$/)
        const words = raw.match(/=\?[^?\s]+\?[BQ]\?[^?\s]*\?=/gi) ?? []
        expect(words.length).toBeGreaterThan(0)
        for (const word of words) expect(word.length).toBeLessThanOrEqual(75)
        expect(mail.subject).toBe(subject)
        expect(mail.headers.has("bcc")).toBe(false)
      }
    })))

  it.effect("a subject and parts with non-ASCII text and long lines read back exactly, in lines of at most 998", () =>
    withSender(Effect.gen(function*() {
      const outbox = yield* EmlOutbox
      const longText = [
        `Votre export « Commandes, T1 » est prêt ✅ ${"Экспорт готов — 注文一覧 📦 ".repeat(60)}`,
        "",
        // Trailing spaces, a tab, a line like an mbox separator, and text shaped like MIME: all kept as they are.
        "Ligne avec des espaces à la fin   ",
        "\tindentée",
        "From the team",
        "--boundary-like line",
        "=?UTF-8?B?SGk=?= is not decoded in a body",
        `${"https://example.com/exports/".repeat(40)}é`,
        ""
      ].join("\n")
      const longLink = "https://example.com/x".repeat(60)
      // Line breaks as Messages.ts writes them (LF): the file has CRLF, and a reader gives LF back.
      const messages: ReadonlyArray<Pick<EmailMessage, "subject" | "text" | "html">> = [
        {
          subject: `Votre export « ${"Commandes, lignes de facture ".repeat(30)}» est prêt ✅ 📦`,
          text: longText,
          html: `<p>${"Votre export est prêt, ".repeat(80)}</p>\n<p><a href="${longLink}">Télécharger</a></p>`
        },
        {
          // One ASCII word longer than a line: it cannot be folded as it is.
          subject: `Export-${"x".repeat(1200)}`,
          text: `${"y".repeat(2000)}\n${"z".repeat(2000)}`,
          html: `<p>${"a".repeat(3000)}</p>`
        }
      ]
      for (const sent of messages) {
        const eml = yield* sendAndRead({ ...messageTo("erin@example.com", sent.subject), ...sent })
        expect(eml.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/)
        expect(Math.max(...eml.split("\r\n").map((line) => line.length))).toBeLessThanOrEqual(998)

        const mail = yield* readEml(eml)
        expect(mail.subject).toBe(sent.subject)
        expect(mail.text).toBe(sent.text)
        expect(mail.html).toBe(sent.html)
        // The development page reads the subject back too.
        const [entry] = yield* outbox.listOutbox(1)
        expect(entry?.subject).toBe(sent.subject)
      }
    })))

  it.effect("lists the outbox newest first, with the clock's dates, in sending order within one instant", () =>
    withSender(Effect.gen(function*() {
      const sender = yield* EmailSender
      const outbox = yield* EmlOutbox
      yield* TestClock.setTime(START)
      yield* sender.send(messageTo("first@example.com", "First"))
      yield* sender.send(messageTo("second@example.com", "Second — même instant"))
      yield* TestClock.adjust(Duration.seconds(90))
      const third = messageTo("third@example.com", "Third")
      yield* sender.send(third)

      const entries = yield* outbox.listOutbox()
      expect(entries.map((entry) => [entry.to, entry.subject])).toEqual([
        ["third@example.com", "Third"],
        ["second@example.com", "Second — même instant"],
        ["first@example.com", "First"]
      ])
      expect(entries[0]!.jobId).toBe(third.jobId)
      expect(entries.map((entry) => DateTime.toEpochMillis(entry.date))).toEqual([
        START - 10 + 90_000,
        START - 10,
        START - 10
      ])
      expect(yield* outbox.listOutbox(2)).toEqual(entries.slice(0, 2))
      // Nothing but the messages themselves: no temporary file is left behind.
      expect(readdirSync(outbox.outbox).sort()).toEqual(entries.map((entry) => entry.file).sort())
    })))

  it.effect("readMessage refuses any name that is not a message of the outbox", () =>
    withSender(Effect.gen(function*() {
      const outbox = yield* EmlOutbox
      yield* (yield* EmailSender).send(messageTo("bob@example.com", "Hello"))
      const [entry] = yield* outbox.listOutbox()
      writeFileSync(NodePath.join(outbox.outbox, "..", "secret.eml"), "not yours")
      for (
        const file of [
          "../secret.eml",
          `../${NodePath.basename(outbox.outbox)}/${entry!.file}`,
          "/etc/passwd",
          "",
          ".",
          entry!.file.replace(/\.eml$/, ".txt"),
          `${entry!.file}/..`
        ]
      ) {
        const error = yield* Effect.flip(outbox.readMessage(file))
        expect(error).toMatchObject({ _tag: "OutboxMessageNotFound", file })
      }
      rmSync(NodePath.join(outbox.outbox, "..", "secret.eml"))
    })))

  it.effect("a write failure is a NotificationFailed on the email channel", () =>
    withSender(Effect.gen(function*() {
      const outbox = yield* EmlOutbox
      // The outbox directory replaced by a plain file: nothing can be written into it any more.
      rmSync(outbox.outbox, { recursive: true })
      writeFileSync(outbox.outbox, "")
      const recipient = `carol-${uniqueSuffix()}@example.com`
      const error = yield* Effect.flip((yield* EmailSender).send(messageTo(recipient, "Hello")))
      expect(error).toMatchObject({ _tag: "NotificationFailed", channel: "email" })
      expect(error.detail).not.toContain(recipient)
    })))

  it.effect("logs the recipient masked, never in full", () =>
    Effect.gen(function*() {
      const logs = makeLogCollector()
      const recipient = `dora-${uniqueSuffix()}@example.com`
      yield* withSender(Effect.flatMap(EmailSender, (sender) => sender.send(messageTo(recipient, "Hello")))).pipe(
        Effect.provide(Logger.add(logs.logger))
      )
      const lines = logs.lines.map((line) =>
        JSON.stringify({ message: line.message, annotations: Object.entries(line.annotations) })
      )
      expect(lines.join("\n")).toContain("d***@example.com")
      expect(lines.join("\n")).not.toContain(recipient)
    }))
})

describe("EmlEmailSender setup", () => {
  it.effect("refuses a From that is not an address", () =>
    Effect.gen(function*() {
      for (const from of ["", "exports", "Exports <not an address>", "a@b.test\r\nBcc: x@y.test"]) {
        const error = yield* Effect.flip(Effect.scoped(Layer.build(EmlEmailSender.layer({ outbox: "unused", from }))))
        expect(error._tag).toBe("EmlEmailSenderSetupFailed")
      }
    }))
})

describe("EmlEmailSender on disk", () => {
  it.scoped("keeps the outbox private: the folder 0700, messages 0600, also a folder an older version made 0755", () =>
    Effect.gen(function*() {
      const outbox = NodePath.join(yield* temporaryDirectory("eml-modes-"), "outbox")
      mkdirSync(outbox, { mode: 0o755 })
      chmodSync(outbox, 0o755)
      const file = yield* Effect.gen(function*() {
        yield* (yield* EmailSender).send(messageTo("someone@example.com", "Modes"))
        const [entry] = yield* (yield* EmlOutbox).listOutbox(1)
        return entry!.file
      }).pipe(Effect.provide(EmlEmailSender.layer({ outbox, from: FROM })))
      const modes = modesUnder(outbox)
      expect(modes).toStrictEqual({ ".": "dir 700", [file]: "file 600" })
      expect(modes).toStrictEqual(allPrivate(modes))
    }))
})

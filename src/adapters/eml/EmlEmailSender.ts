// Email for the embedded default: each message becomes an RFC 5322 `.eml` file in an outbox directory, which a
// mail client opens as is and a development page lists. Nothing leaves the machine.
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Clock, Context, DateTime, Effect, Layer, Option, Redacted, Ref, Schema } from "effect"
import type { Config, ConfigError } from "effect"
import { randomBytes } from "node:crypto"
import * as NodePath from "node:path"
import type { EmailMessage } from "../../application/ports/EmailSender.js"
import { EmailSender } from "../../application/ports/EmailSender.js"
import { NotificationFailed } from "../../domain/Errors.js"
import { maskEmail } from "../../domain/Identifiers.js"

export interface EmlEmailSenderOptions {
  /** The directory the `.eml` files are written to; created if missing. */
  readonly outbox: string
  /** The From header: `exports@example.com` or `Exports <exports@example.com>`. */
  readonly from: string
}

/** One message of the outbox, as the development page lists it. */
export interface OutboxEntry {
  /** The file name inside the outbox: what `readMessage` takes. */
  readonly file: string
  /** The full recipient address: the page shows it to the developer, and nothing logs it. */
  readonly to: string
  readonly subject: string
  readonly date: DateTime.Utc
  readonly jobId: string
}

export class OutboxMessageNotFound extends Schema.TaggedError<OutboxMessageNotFound>()("OutboxMessageNotFound", {
  file: Schema.String
}) {}

export class EmlEmailSenderSetupFailed extends Schema.TaggedError<EmlEmailSenderSetupFailed>()(
  "EmlEmailSenderSetupFailed",
  { detail: Schema.String }
) {}

export interface EmlEmailSenderService {
  readonly outbox: string
  readonly send: Context.Tag.Service<EmailSender>["send"]
  /** The newest messages first, at most `limit` (100 by default). Files that do not parse are left out. */
  readonly listOutbox: (limit?: number) => Effect.Effect<ReadonlyArray<OutboxEntry>>
  /** The raw `.eml` text of one message of the outbox; any name that is not one of ours is refused. */
  readonly readMessage: (file: string) => Effect.Effect<string, OutboxMessageNotFound>
}

// `<UTC time to the millisecond>-<sequence>-<random>.eml`: names sort by time, and by sending order within one
// millisecond (as under TestClock), so that a directory listing is the outbox in order.
const MESSAGE_FILE = /^[0-9]{8}T[0-9]{9}Z-[0-9]{9}-[0-9a-f]{8}\.eml$/
const DEFAULT_LIST_LIMIT = 100
const CRLF = "\r\n"
// RFC 2047: an encoded-word is at most 75 characters; "=?UTF-8?B?" and "?=" leave 63, so 60 base64 characters,
// which carry 45 bytes.
const ENCODED_WORD_BYTES = 45
// RFC 5322 allows 998 characters a line; a longer plain subject is sent as encoded-words, which fold.
const PLAIN_SUBJECT_MAX = 900
const BASE64_LINE = 76
// The messages carry full addresses and download links: only this user may list or read them. A directory made
// by an older version is set again; a file gets its mode when it is created (a umask can narrow it, never widen it).
const PRIVATE_DIRECTORY = 0o700
const PRIVATE_FILE = 0o600

const setupFailed = (detail: string) => new EmlEmailSenderSetupFailed({ detail })

const ADDRESS = /^[^\s<>@",;]+@[^\s<>@",;]+$/
const NAMED_ADDRESS = /^(.*?)\s*<([^\s<>]+)>$/

const isPrintableAscii = (text: string): boolean => /^[\x20-\x7e]*$/.test(text)

/** Text for an unstructured header (Subject, a display name): plain when safe, else UTF-8 encoded-words. */
const encodeHeaderText = (text: string): string => {
  // An ASCII text that looks like an encoded-word would be decoded by mail readers: encode it too.
  if (isPrintableAscii(text) && text.length <= PLAIN_SUBJECT_MAX && !text.includes("=?")) return text
  const words: Array<string> = []
  let current = ""
  for (const character of text) {
    // Whole characters only: an encoded-word must never end inside a UTF-8 sequence.
    if (current !== "" && Buffer.byteLength(current + character, "utf8") > ENCODED_WORD_BYTES) {
      words.push(current)
      current = ""
    }
    current += character
  }
  words.push(current)
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, "utf8").toString("base64")}?=`).join(`${CRLF} `)
}

/** The inverse of `encodeHeaderText`: unfolds, then decodes the B encoded-words it writes. */
const decodeHeaderText = (value: string): string =>
  value
    .replace(/\r\n[ \t]/g, " ")
    // Whitespace between two encoded-words is folding, not text (RFC 2047, section 6.2).
    .replace(/(=\?[^?]+\?[Bb]\?[^?]*\?=)\s+(?==\?)/g, "$1")
    .replace(/=\?[^?]+\?[Bb]\?([^?]*)\?=/g, (_, encoded: string) => Buffer.from(encoded, "base64").toString("utf8"))

const fromHeaderOf = (
  from: string
): Effect.Effect<{ readonly header: string; readonly domain: string }, EmlEmailSenderSetupFailed> => {
  const trimmed = from.trim()
  const named = NAMED_ADDRESS.exec(trimmed)
  const address = named === null ? trimmed : named[2]!
  const name = named === null ? "" : named[1]!.replace(/^"(.*)"$/, "$1")
  if (!ADDRESS.test(address) || /[\r\n]/.test(name)) {
    return Effect.fail(setupFailed(`the From address is not an address: ${from}`))
  }
  const displayName = name === ""
    ? ""
    : isPrintableAscii(name)
    ? `"${name.replace(/["\\]/g, "\\$&")}" `
    : `${encodeHeaderText(name)} `
  return Effect.succeed({ header: `${displayName}<${address}>`, domain: address.slice(address.lastIndexOf("@") + 1) })
}

/** A body part in canonical form (CRLF line breaks), as base64 lines: exact for any text, any line length. */
const base64Lines = (text: string): string => {
  const encoded = Buffer.from(text.replace(/\r?\n/g, CRLF), "utf8").toString("base64")
  const lines: Array<string> = []
  for (let i = 0; i < encoded.length; i += BASE64_LINE) lines.push(encoded.slice(i, i + BASE64_LINE))
  return lines.join(CRLF)
}

/** RFC 5322 date-time: "Mon, 06 May 2024 07:08:09 +0000". */
const rfc5322Date = (millis: number): string => new Date(millis).toUTCString().replace(/GMT$/, "+0000")

const fileStamp = (millis: number): string => new Date(millis).toISOString().replace(/[-:.]/g, "")

interface Rendered {
  readonly from: string
  readonly to: string
  readonly subject: string
  readonly text: string
  readonly html: string
  readonly jobId: string
  readonly date: string
  readonly messageId: string
  readonly boundary: string
}

const render = (message: Rendered): string =>
  [
    `From: ${message.from}`,
    `To: ${message.to}`,
    `Subject: ${encodeHeaderText(message.subject)}`,
    `Date: ${message.date}`,
    `Message-ID: ${message.messageId}`,
    "MIME-Version: 1.0",
    `X-Export-Job-Id: ${message.jobId}`,
    `Content-Type: multipart/alternative; boundary="${message.boundary}"`,
    "",
    `--${message.boundary}`,
    "Content-Type: text/plain; charset=UTF-8",
    "Content-Transfer-Encoding: base64",
    "",
    base64Lines(message.text),
    `--${message.boundary}`,
    "Content-Type: text/html; charset=UTF-8",
    "Content-Transfer-Encoding: base64",
    "",
    base64Lines(message.html),
    `--${message.boundary}--`,
    ""
  ].join(CRLF)

/** The header fields of a message we wrote, unfolded, by lower-case name (the first occurrence of each). */
const headersOf = (eml: string): ReadonlyMap<string, string> => {
  const end = eml.indexOf(CRLF + CRLF)
  const block = (end === -1 ? eml : eml.slice(0, end)).replace(/\r\n[ \t]/g, " ")
  const headers = new Map<string, string>()
  for (const line of block.split(CRLF)) {
    const colon = line.indexOf(":")
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim())
  }
  return headers
}

const entryOf = (file: string, eml: string): Option.Option<OutboxEntry> => {
  const headers = headersOf(eml)
  const to = headers.get("to")
  const subject = headers.get("subject")
  const jobId = headers.get("x-export-job-id")
  const date = Option.flatMap(Option.fromNullable(headers.get("date")), (value) => DateTime.make(value))
  if (to === undefined || subject === undefined || jobId === undefined || Option.isNone(date)) return Option.none()
  return Option.some({ file, to, subject: decodeHeaderText(subject), date: DateTime.toUtc(date.value), jobId })
}

export const make = (options: EmlEmailSenderOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const outbox = NodePath.resolve(options.outbox)
    const from = yield* fromHeaderOf(options.from)
    yield* fs.makeDirectory(outbox, { recursive: true, mode: PRIVATE_DIRECTORY }).pipe(
      Effect.zipRight(fs.chmod(outbox, PRIVATE_DIRECTORY)),
      Effect.mapError((error) => setupFailed(`cannot create ${outbox}: ${error.message}`))
    )
    const sequence = yield* Ref.make(0)

    const send = Effect.fn("EmlEmailSender.send")(function*(message: EmailMessage) {
      const to = Redacted.value(message.to)
      const refused = (detail: string) => new NotificationFailed({ channel: "email", detail })
      // EmailAddress already excludes whitespace; a header must never be split by what a caller passed.
      if (!ADDRESS.test(to)) return yield* refused("the recipient is not an address")
      const now = yield* Clock.currentTimeMillis
      const number = yield* Ref.getAndUpdate(sequence, (n) => (n + 1) % 1_000_000_000)
      const unique = randomBytes(4).toString("hex")
      const file = `${fileStamp(now)}-${String(number).padStart(9, "0")}-${unique}.eml`
      const eml = render({
        from: from.header,
        to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        jobId: message.jobId,
        date: rfc5322Date(now),
        messageId: `<${fileStamp(now)}.${number}.${unique}@${from.domain}>`,
        // "=_" never occurs in base64, so no body line can be taken for the boundary.
        boundary: `=_export_${randomBytes(12).toString("hex")}`
      })
      // Written beside its final name and renamed into place, so the page never lists half a message. The dot
      // keeps the temporary file out of listings.
      const temporary = NodePath.join(outbox, `.${file}.tmp`)
      yield* fs.writeFileString(temporary, eml, { flag: "wx", mode: PRIVATE_FILE }).pipe(
        Effect.zipRight(fs.rename(temporary, NodePath.join(outbox, file))),
        Effect.onError(() => fs.remove(temporary, { force: true }).pipe(Effect.ignore)),
        Effect.mapError((error) => refused(`could not write to the outbox: ${error.message}`))
      )
      yield* Effect.logInfo("email written to the outbox", { to: maskEmail(to), jobId: message.jobId, file })
    })

    const listOutbox = (limit: number = DEFAULT_LIST_LIMIT): Effect.Effect<ReadonlyArray<OutboxEntry>> =>
      Effect.gen(function*() {
        const names = yield* fs.readDirectory(outbox).pipe(
          Effect.catchIf(
            (error) => error._tag === "SystemError" && error.reason === "NotFound",
            () => Effect.succeed([])
          )
        )
        const newest = names.filter((name) => MESSAGE_FILE.test(name)).sort().reverse().slice(0, Math.max(0, limit))
        const entries = yield* Effect.forEach(newest, (file) =>
          fs.readFileString(NodePath.join(outbox, file)).pipe(
            Effect.map((eml) => entryOf(file, eml)),
            // Removed between the listing and the read: it is simply no longer in the outbox.
            Effect.orElseSucceed(() => Option.none<OutboxEntry>())
          ), { concurrency: 8 })
        return entries.flatMap(Option.toArray)
      }).pipe(Effect.orDie)

    const readMessage = (file: string): Effect.Effect<string, OutboxMessageNotFound> => {
      const notFound = new OutboxMessageNotFound({ file })
      // The name pattern admits no separator and no dot segment, so the path cannot leave the outbox.
      if (!MESSAGE_FILE.test(file)) return Effect.fail(notFound)
      return fs.readFileString(NodePath.join(outbox, file)).pipe(
        Effect.catchAll((error) =>
          error._tag === "SystemError" && error.reason === "NotFound" ? Effect.fail(notFound) : Effect.die(error)
        )
      )
    }

    return { outbox, send, listOutbox, readMessage } satisfies EmlEmailSenderService
  })

/**
 * The `.eml` outbox, with what the development page needs beside the `EmailSender` port. Build it with
 * `EmlEmailSender.layer`, which provides both from one instance.
 */
export class EmlEmailSender extends Context.Tag("exports/eml/EmlEmailSender")<
  EmlEmailSender,
  EmlEmailSenderService
>() {
  static readonly make = make

  static readonly layer = (
    options: EmlEmailSenderOptions
  ): Layer.Layer<EmailSender | EmlEmailSender, EmlEmailSenderSetupFailed> =>
    Layer.effect(EmailSender, Effect.map(EmlEmailSender, (sender) => EmailSender.of({ send: sender.send }))).pipe(
      Layer.provideMerge(Layer.effect(EmlEmailSender, make(options))),
      Layer.provide(NodeFileSystem.layer)
    )

  /** The same, with its options read from `Config` (a missing setting fails start-up with its name). */
  static readonly layerConfig = (
    options: Config.Config<EmlEmailSenderOptions>
  ): Layer.Layer<EmailSender | EmlEmailSender, EmlEmailSenderSetupFailed | ConfigError.ConfigError> =>
    Layer.unwrapEffect(Effect.map(options, EmlEmailSender.layer))
}

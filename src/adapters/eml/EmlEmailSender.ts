// Email for the embedded default: each message becomes an RFC 5322 `.eml` file in an outbox directory, which a
// mail client opens as is and a development page lists. Nothing leaves the machine.
import { FileSystem } from "@effect/platform"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Clock, Context, DateTime, Effect, Layer, Option, Redacted, Ref, Schema } from "effect"
import libmime from "libmime"
import { randomBytes } from "node:crypto"
import * as NodePath from "node:path"
import addressparser from "nodemailer/lib/addressparser"
import MailComposer from "nodemailer/lib/mail-composer"
import { encodeWord } from "nodemailer/lib/mime-funcs"
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

export interface EmlOutboxService {
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
const JOB_ID_HEADER = "X-Export-Job-Id"
// The length of the text of one encoded-word that nodemailer itself uses for headers.
const ENCODED_WORD_TEXT = 52
// RFC 5322 allows 998 characters a line, and a header folds only at whitespace.
const LONGEST_PLAIN_WORD = 900
// The messages carry full addresses and download links: only this user may list or read them. A directory made
// by an older version is set again; a file gets its mode when it is created (a umask can narrow it, never widen it).
const PRIVATE_DIRECTORY = 0o700
const PRIVATE_FILE = 0o600

const setupFailed = (detail: string) => new EmlEmailSenderSetupFailed({ detail })

const ADDRESS = /^[^\s<>@",;]+@[^\s<>@",;]+$/

interface Mailbox {
  readonly name: string
  readonly address: string
}

/** The From setting as one mailbox: a list, a group, a line break or anything but an address fails the start-up. */
const senderOf = (from: string): Effect.Effect<Mailbox, EmlEmailSenderSetupFailed> => {
  const parsed = /[\r\n]/.test(from) ? [] : addressparser(from)
  const [mailbox] = parsed
  if (parsed.length !== 1 || mailbox?.address === undefined || !ADDRESS.test(mailbox.address)) {
    return Effect.fail(setupFailed(`the From address is not an address: ${from}`))
  }
  return Effect.succeed({ name: mailbox.name, address: mailbox.address })
}

// nodemailer changes some subjects before writing them: a line break becomes a space, text shaped like an
// encoded-word ("=?UTF-8?B?...?=") is taken as already encoded (and a mail reader would decode it), and a word longer
// than a line is written unfolded. Such a subject is given to it already encoded, by its own encoder, so that every
// subject reads back exactly as it was sent.
const NOT_WRITTEN_AS_IS = new RegExp(`=\\?|[\\r\\n]|\\S{${LONGEST_PLAIN_WORD},}`)

const subjectField = (subject: string): string =>
  NOT_WRITTEN_AS_IS.test(subject) ? encodeWord(subject, "B", ENCODED_WORD_TEXT) : subject

// nodemailer spells a field name that ends in "-id" "-ID"; the job's field keeps the spelling it has always had.
const keepJobIdSpelling = (key: string): string =>
  key.toLowerCase() === JOB_ID_HEADER.toLowerCase() ? JOB_ID_HEADER : key

const fileStamp = (millis: number): string => new Date(millis).toISOString().replace(/[-:.]/g, "")

interface Composed {
  readonly sender: Mailbox
  readonly to: string
  readonly message: EmailMessage
  readonly date: Date
  readonly messageId: string
}

/** The message as RFC 5322 bytes: multipart/alternative, the text part then the HTML part, CRLF line breaks. */
const compose = ({ date, message, messageId, sender, to }: Composed): Promise<Buffer> =>
  new MailComposer({
    from: sender,
    to,
    subject: subjectField(message.subject),
    date,
    messageId,
    headers: { [JOB_ID_HEADER]: message.jobId },
    text: message.text,
    html: message.html,
    newline: CRLF,
    normalizeHeaderKey: keepJobIdSpelling
  }).compile().build()

/** What the development page shows of a message we wrote, read from its header block; none if a field is missing. */
const entryOf = (file: string, eml: string): Option.Option<OutboxEntry> => {
  const end = eml.indexOf(CRLF + CRLF)
  const headers = libmime.decodeHeaders(end === -1 ? eml : eml.slice(0, end))
  const first = (name: string): string | undefined => headers[name]?.[0]
  const to = addressparser(first("to"), { flatten: true })[0]?.address
  const subject = first("subject")
  const jobId = first("x-export-job-id")
  const date = Option.flatMap(Option.fromNullable(first("date")), (value) => DateTime.make(value))
  if (!to || subject === undefined || jobId === undefined || Option.isNone(date)) return Option.none()
  return Option.some({ file, to, subject: libmime.decodeWords(subject), date: DateTime.toUtc(date.value), jobId })
}

export const make = (options: EmlEmailSenderOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const outbox = NodePath.resolve(options.outbox)
    const sender = yield* senderOf(options.from)
    const domain = sender.address.slice(sender.address.lastIndexOf("@") + 1)
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
      const eml = yield* Effect.tryPromise({
        try: () =>
          compose({
            sender,
            to,
            message,
            date: new Date(now),
            messageId: `<${fileStamp(now)}.${number}.${unique}@${domain}>`
          }),
        catch: (cause) =>
          refused(`could not compose the message: ${cause instanceof Error ? cause.message : String(cause)}`)
      })
      // Written beside its final name and renamed into place, so the page never lists half a message. The dot
      // keeps the temporary file out of listings.
      const temporary = NodePath.join(outbox, `.${file}.tmp`)
      yield* fs.writeFile(temporary, eml, { flag: "wx", mode: PRIVATE_FILE }).pipe(
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

    return { outbox, send, listOutbox, readMessage } satisfies EmlOutboxService
  })

/** The `.eml` outbox, with what the development page needs beside the `EmailSender` port it also provides. */
export class EmlOutbox extends Context.Tag("exports/eml/EmlOutbox")<EmlOutbox, EmlOutboxService>() {}

/** The EmailSender and the EmlOutbox behind it, both from one instance. */
export const layer = (
  options: EmlEmailSenderOptions
): Layer.Layer<EmailSender | EmlOutbox, EmlEmailSenderSetupFailed> =>
  Layer.effect(EmailSender, Effect.map(EmlOutbox, (outbox) => EmailSender.of({ send: outbox.send }))).pipe(
    Layer.provideMerge(Layer.effect(EmlOutbox, make(options))),
    Layer.provide(NodeFileSystem.layer)
  )

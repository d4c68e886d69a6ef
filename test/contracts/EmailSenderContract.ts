// The behaviour every EmailSender must have: what is sent arrives at its recipient, as written. `readSent` is
// the test's own view of the mailbox (the SES emulator's store for the real adapter).
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import type { Layer } from "effect"
import { EmailSender } from "../../src/application/ports/EmailSender.js"
import type { EmailMessage } from "../../src/application/ports/EmailSender.js"
import { EmailAddress } from "../../src/domain/Identifiers.js"
import { jobIdAt, uniqueSuffix } from "./ContractSupport.js"

/** A message as the mailbox received it. */
export interface SentMail {
  readonly to: ReadonlyArray<string>
  readonly subject: string
  readonly text: string
  readonly html: string
}

/** The messages sent to one recipient so far, oldest first, bypassing the port. */
export type ReadSent<R> = (recipient: EmailAddress) => Effect.Effect<ReadonlyArray<SentMail>, never, R>

const messageTo = (recipient: EmailAddress, subject: string): EmailMessage => {
  const jobId = jobIdAt(Date.now())
  return {
    to: Redacted.make(recipient),
    subject,
    text:
      `Your export is ready.\n\nDownload it here (the link works for 7 days):\nhttps://example.com/exports/${jobId}\n`,
    html:
      `<p>Your export is <strong>ready</strong> &amp; waiting.</p>\n<p><a href="https://example.com/exports/${jobId}">`
      + `Download</a></p>`,
    jobId
  }
}

export const emailSenderContract = <R, E>(
  name: string,
  makeLayer: () => Layer.Layer<EmailSender | R, E>,
  readSent: ReadSent<R>
) =>
  describe(`EmailSender contract: ${name}`, () => {
    const withSender = <A, E2>(test: Effect.Effect<A, E2, EmailSender | R>) => Effect.provide(test, makeLayer())

    it.effect("a sent message reaches its recipient with its subject, text and html", () =>
      withSender(Effect.gen(function*() {
        const sender = yield* EmailSender
        const recipient = EmailAddress.make(`alice-${uniqueSuffix()}@example.com`)
        const message = messageTo(recipient, "Your export « Orders, Q1 » is ready ✅")
        yield* sender.send(message)
        expect(yield* readSent(recipient)).toEqual([{
          to: [recipient],
          subject: message.subject,
          text: message.text,
          html: message.html
        }])
      })))

    it.effect("each message reaches its own recipient only", () =>
      withSender(Effect.gen(function*() {
        const sender = yield* EmailSender
        const suffix = uniqueSuffix()
        const alice = EmailAddress.make(`alice-${suffix}@example.com`)
        const bob = EmailAddress.make(`bob-${suffix}@example.com`)
        yield* sender.send(messageTo(alice, "For Alice"))
        yield* sender.send(messageTo(bob, "For Bob"))
        yield* sender.send(messageTo(alice, "For Alice again"))
        expect((yield* readSent(alice)).map((mail) => [mail.to, mail.subject])).toEqual([
          [[alice], "For Alice"],
          [[alice], "For Alice again"]
        ])
        expect((yield* readSent(bob)).map((mail) => [mail.to, mail.subject])).toEqual([[[bob], "For Bob"]])
      })))
  })

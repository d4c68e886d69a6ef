import type { Effect, Redacted } from "effect"
import { Context } from "effect"
import type { NotificationFailed } from "../../domain/Errors.js"
import type { EmailAddress, ExportJobId } from "../../domain/Identifiers.js"

export interface EmailMessage {
  readonly to: Redacted.Redacted<EmailAddress>
  readonly subject: string
  readonly text: string
  readonly html: string
  /** The job it is about, for the provider's tags and our logs. */
  readonly jobId: ExportJobId
}

export class EmailSender extends Context.Tag("exports/EmailSender")<EmailSender, {
  /**
   * Sends one message. A failure says `retryable: false` when the provider refused this message for good, so that
   * it is not tried again for the whole retry window; one it cannot judge (no answer, a timeout) is retryable.
   */
  readonly send: (message: EmailMessage) => Effect.Effect<void, NotificationFailed>
}>() {}

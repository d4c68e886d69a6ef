// Emails kept in memory, in the order they were sent, so that tests and the simulator can read what a user would
// have received, duplicates included.
import { Effect, Layer, Option } from "effect"
import { EmailSender } from "../../application/ports/EmailSender.js"
import type { EmailMessage } from "../../application/ports/EmailSender.js"
import { NotificationFailed } from "../../domain/Errors.js"
import { FaultInjection } from "./FaultInjection.js"

/** Every email sent: what the EmailSender this module's `layer` provides writes to. */
export class MemoryOutbox extends Effect.Service<MemoryOutbox>()("exports/memory/MemoryOutbox", {
  effect: Effect.gen(function*() {
    const faults = yield* FaultInjection
    // Appended to in place rather than copied on every send.
    const outbox: Array<EmailMessage> = []
    return {
      send: (message: EmailMessage) =>
        Effect.gen(function*() {
          if (Option.isSome(yield* faults.fire("email"))) {
            return yield* new NotificationFailed({ channel: "email", detail: "injected fault: email provider down" })
          }
          outbox.push(message)
        }),
      outbox: Effect.sync((): ReadonlyArray<EmailMessage> => outbox.slice())
    }
  })
}) {}

/** The EmailSender on the MemoryOutbox in context. */
export const layer = Layer.effect(
  EmailSender,
  Effect.map(MemoryOutbox, (outbox) => EmailSender.of({ send: outbox.send }))
)

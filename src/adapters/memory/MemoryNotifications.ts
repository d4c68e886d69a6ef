// In-app notifications and emails kept in memory. Every delivery attempt is also logged, so that tests can
// count what a user would have received, duplicates included.
import { Effect, Layer, Option } from "effect"
import { EmailSender } from "../../application/ports/EmailSender.js"
import type { EmailMessage } from "../../application/ports/EmailSender.js"
import { InAppNotification, InAppNotifier } from "../../application/ports/InAppNotifier.js"
import { NotificationFailed, NotificationNotFound } from "../../domain/Errors.js"
import { FaultInjection } from "./FaultInjection.js"
import { ownerKey } from "./MapKeys.js"

export class MemoryInAppNotifier extends Effect.Service<MemoryInAppNotifier>()("exports/memory/MemoryInAppNotifier", {
  effect: Effect.gen(function*() {
    const faults = yield* FaultInjection
    // All written in place (every step below is synchronous): the embedded server keeps every notification of
    // its lifetime, and a copy per delivery would cost what all of them cost. Each owner's ids are indexed so that
    // listing them costs what that owner has, not what every user has.
    const stored = new Map<string, InAppNotification>()
    const idsByOwner = new Map<string, Array<string>>()
    const deliveries: Array<InAppNotification> = []
    const notifier = InAppNotifier.of({
      deliver: (notification) =>
        Effect.gen(function*() {
          if (Option.isSome(yield* faults.fire("inApp"))) {
            return yield* new NotificationFailed({ channel: "inApp", detail: "injected fault: in-app service down" })
          }
          deliveries.push(notification)
          // Idempotent by id: a repeated delivery keeps the first copy (and whether it was read).
          if (stored.has(notification.id)) return
          stored.set(notification.id, notification)
          const key = ownerKey(notification.owner)
          const ids = idsByOwner.get(key)
          if (ids === undefined) idsByOwner.set(key, [notification.id])
          else ids.push(notification.id)
        }),
      listFor: (owner) =>
        Effect.sync(() =>
          (idsByOwner.get(ownerKey(owner)) ?? [])
            .map((id) => stored.get(id)!)
            .sort((a, b) => b.createdAt.epochMillis - a.createdAt.epochMillis || (a.id < b.id ? 1 : -1))
        ),
      markRead: (owner, notificationId, at) =>
        Effect.suspend(() => {
          const found = stored.get(notificationId)
          if (found === undefined || !owner.isOwnerOf(found)) {
            return Effect.fail(new NotificationNotFound({ notificationId }))
          }
          const read = found.readAt === undefined ? new InAppNotification({ ...found, readAt: at }) : found
          stored.set(notificationId, read)
          return Effect.succeed(read)
        })
    })
    return { notifier, deliveries: Effect.sync((): ReadonlyArray<InAppNotification> => deliveries.slice()) }
  })
}) {}

export const InAppNotifierMemory = Layer.effect(InAppNotifier, Effect.map(MemoryInAppNotifier, (m) => m.notifier))

export class MemoryEmailSender extends Effect.Service<MemoryEmailSender>()("exports/memory/MemoryEmailSender", {
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

export const EmailSenderMemory = Layer.effect(
  EmailSender,
  Effect.map(MemoryEmailSender, (m) => EmailSender.of({ send: m.send }))
)

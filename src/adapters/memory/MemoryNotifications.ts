// In-app notifications and emails kept in memory. Every delivery attempt is also logged, so that tests can
// count what a user would have received, duplicates included.
import { Effect, Layer, Option, Ref } from "effect"
import { EmailSender } from "../../application/ports/EmailSender.js"
import type { EmailMessage } from "../../application/ports/EmailSender.js"
import { InAppNotification, InAppNotifier } from "../../application/ports/InAppNotifier.js"
import { NotificationFailed, NotificationNotFound } from "../../domain/Errors.js"
import { FaultInjection } from "./FaultInjection.js"

export class MemoryInAppNotifier extends Effect.Service<MemoryInAppNotifier>()("exports/memory/MemoryInAppNotifier", {
  effect: Effect.gen(function*() {
    const faults = yield* FaultInjection
    const stored = yield* Ref.make(new Map<string, InAppNotification>())
    // Appended to in place: the embedded server keeps every notification of its lifetime.
    const deliveries: Array<InAppNotification> = []
    const notifier = InAppNotifier.of({
      deliver: (notification) =>
        Effect.gen(function*() {
          if (Option.isSome(yield* faults.fire("inApp"))) {
            return yield* new NotificationFailed({ channel: "inApp", detail: "injected fault: in-app service down" })
          }
          deliveries.push(notification)
          // Idempotent by id: a repeated delivery keeps the first copy (and whether it was read).
          yield* Ref.update(stored, (map) =>
            map.has(notification.id) ? map : new Map(map).set(notification.id, notification))
        }),
      listFor: (owner) =>
        Effect.map(Ref.get(stored), (map) =>
          Array.from(map.values())
            .filter((n) => owner.isOwnerOf(n))
            .sort((a, b) => b.createdAt.epochMillis - a.createdAt.epochMillis || (a.id < b.id ? 1 : -1))),
      markRead: (owner, notificationId, at) =>
        Ref.modify(stored, (map) => {
          const found = map.get(notificationId)
          if (found === undefined || !owner.isOwnerOf(found)) return [Option.none(), map] as const
          const read = found.readAt === undefined ? new InAppNotification({ ...found, readAt: at }) : found
          return [Option.some(read), map.set(notificationId, read)] as const
        }).pipe(
          Effect.flatMap(Option.match({
            onNone: () => Effect.fail(new NotificationNotFound({ notificationId })),
            onSome: Effect.succeed
          }))
        )
    })
    return { notifier, deliveries: Effect.sync((): ReadonlyArray<InAppNotification> => deliveries.slice()) }
  })
}) {}

export const InAppNotifierMemory = Layer.effect(InAppNotifier, Effect.map(MemoryInAppNotifier, (m) => m.notifier))

export class MemoryEmailSender extends Effect.Service<MemoryEmailSender>()("exports/memory/MemoryEmailSender", {
  effect: Effect.gen(function*() {
    const faults = yield* FaultInjection
    const outbox = yield* Ref.make<ReadonlyArray<EmailMessage>>([])
    return {
      send: (message: EmailMessage) =>
        Effect.gen(function*() {
          if (Option.isSome(yield* faults.fire("email"))) {
            return yield* new NotificationFailed({ channel: "email", detail: "injected fault: email provider down" })
          }
          yield* Ref.update(outbox, (list) => [...list, message])
        }),
      outbox: Ref.get(outbox)
    }
  })
}) {}

export const EmailSenderMemory = Layer.effect(
  EmailSender,
  Effect.map(MemoryEmailSender, (m) => EmailSender.of({ send: m.send }))
)

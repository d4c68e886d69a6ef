// In-app notifications kept in memory. Every delivery attempt is also logged, so that tests can count what a user
// would have seen, duplicates included.
import { Effect, Layer, Option } from "effect"
import { InAppNotification, InAppNotifier } from "../../application/ports/InAppNotifier.js"
import { NotificationFailed, NotificationNotFound } from "../../domain/Errors.js"
import { FaultInjection } from "./FaultInjection.js"
import { ownerKey } from "./MapKeys.js"

/** Every user's notifications and the log of deliveries: the InAppNotifier this module's `layer` provides, and more. */
export class MemoryInbox extends Effect.Service<MemoryInbox>()("exports/memory/MemoryInbox", {
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

/** The InAppNotifier of the MemoryInbox in context. */
export const layer = Layer.effect(InAppNotifier, Effect.map(MemoryInbox, (inbox) => inbox.notifier))

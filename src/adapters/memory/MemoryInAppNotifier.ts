// In-app notifications kept in memory. Every delivery attempt is also logged, so that tests can count what a user
// would have seen, duplicates included. Both are evicted once a notification's retention is over
// (application/Retention.ts), as DynamoDB's TTL deletes it.
import { Effect, Layer, Option } from "effect"
import { InAppNotification, InAppNotifier } from "../../application/ports/InAppNotifier.js"
import { notificationRetainedUntil } from "../../application/Retention.js"
import { NotificationFailed, NotificationNotFound } from "../../domain/Errors.js"
import { makeEviction } from "./Eviction.js"
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
    let deliveries: Array<InAppNotification> = []
    const whenEvictionDue = makeEviction()

    const evictExpired = (now: number): void => {
      const expired = (notification: InAppNotification) => notificationRetainedUntil(notification) <= now
      const owners = new Set<string>()
      for (const [id, notification] of stored) {
        if (!expired(notification)) continue
        stored.delete(id)
        owners.add(ownerKey(notification.owner))
      }
      for (const owner of owners) {
        const kept = idsByOwner.get(owner)!.filter((id) => stored.has(id))
        if (kept.length === 0) idsByOwner.delete(owner)
        else idsByOwner.set(owner, kept)
      }
      if (deliveries.some(expired)) deliveries = deliveries.filter((notification) => !expired(notification))
    }

    const notifier = InAppNotifier.of({
      deliver: (notification) =>
        Effect.gen(function*() {
          // Only a delivery makes the inbox grow, so it is where expired notifications are swept.
          yield* whenEvictionDue(evictExpired)
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

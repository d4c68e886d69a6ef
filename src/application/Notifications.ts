// The user's in-app notifications: listed and marked read by their owner only.
import { DateTime, Effect } from "effect"
import type { Owner } from "../domain/Identifiers.js"
import { InAppNotifier } from "./ports/InAppNotifier.js"

export const listNotifications = Effect.fn("Notifications.list")(function*(owner: Owner) {
  const notifier = yield* InAppNotifier
  return yield* notifier.listFor(owner)
})

export const markNotificationRead = Effect.fn("Notifications.markRead")(
  function*(owner: Owner, notificationId: string) {
    const notifier = yield* InAppNotifier
    return yield* notifier.markRead(owner, notificationId, yield* DateTime.now)
  }
)

import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { listNotifications, markNotificationRead } from "../../application/Notifications.js"
import { ExportApi, NotificationList } from "./Api.js"
import { notificationNotFound, notificationsUnavailable } from "./ApiErrors.js"
import { CurrentCaller } from "./Authentication.js"
import { conditionalJson } from "./EntityTags.js"
import { notificationView } from "./Views.js"

export const layer = HttpApiBuilder.group(ExportApi, "notifications", (handlers) =>
  handlers
    .handleRaw("listNotifications", ({ request }) =>
      Effect.gen(function*() {
        const caller = yield* CurrentCaller
        const notifications = yield* listNotifications(caller.owner).pipe(
          Effect.catchTag("NotificationFailed", notificationsUnavailable)
        )
        const list = new NotificationList({ items: notifications.map(notificationView) })
        return yield* conditionalJson(NotificationList, list, caller.owner, request)
      }))
    .handle("markNotificationRead", ({ path }) =>
      Effect.gen(function*() {
        const caller = yield* CurrentCaller
        const read = yield* markNotificationRead(caller.owner, path.notificationId).pipe(
          Effect.catchTags({ NotificationNotFound: notificationNotFound, NotificationFailed: notificationsUnavailable })
        )
        return notificationView(read)
      })))

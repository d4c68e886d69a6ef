// The caller's in-app notices, as the server last listed them. The unread count is derived from the list.
import type { NotificationView } from "../../../src/adapters/http/Api.ts"
import { callApi } from "../api/ApiClient.ts"
import { createStore } from "../lib/Store.ts"

export const notificationsStore = createStore<ReadonlyArray<NotificationView> | undefined>(undefined)

export const unreadCount = (items: ReadonlyArray<NotificationView> | undefined): number =>
  items?.filter((item) => item.readAt === undefined).length ?? 0

export const refreshNotifications = async (): Promise<void> => {
  const list = await callApi((api) => api.notifications.listNotifications())
  notificationsStore.set(list.items)
}

/** Marks the unread notices read, then reads the list again. */
export const markAllRead = async (): Promise<void> => {
  const unread = notificationsStore.get()?.filter((item) => item.readAt === undefined) ?? []
  if (unread.length === 0) return
  const read = await Promise.all(
    unread.map((item) =>
      callApi((api) => api.notifications.markNotificationRead({ path: { notificationId: item.id } }))
    )
  )
  const byId = new Map(read.map((item) => [item.id, item]))
  notificationsStore.set((items) => items?.map((item) => byId.get(item.id) ?? item))
}

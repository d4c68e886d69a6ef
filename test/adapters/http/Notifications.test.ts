// In-app notifications over HTTP: one per finished export, for its owner, marked read once.
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, TestClock } from "effect"
import { FaultInjection } from "../../../src/adapters/memory/FaultInjection.js"
import { apiTestLayer, clientFor, tokenFor } from "../../support/ApiHarness.js"
import { alice, drainQueue } from "../../support/Fixtures.js"
import { expectRefused, NOTIFICATIONS_PATH, ordersBody, postEmpty } from "./HttpSupport.js"

describe("HTTP API: notifications", () => {
  it.effect("lists none before any export finished", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(alice)
      yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
      expect((yield* client.notifications.listNotifications()).items).toStrictEqual([])
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("lists one unread export_succeeded notification for the owner after an export", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(alice)
      const accepted = yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
      yield* drainQueue
      const { items } = yield* client.notifications.listNotifications()
      expect(items).toHaveLength(1)
      const [notification] = items
      expect(notification?.kind).toBe("export_succeeded")
      expect(notification?.jobId).toBe(accepted.jobId)
      expect(notification?.readAt).toBeUndefined()
      expect(notification?.title.length).toBeGreaterThan(0)
      // The download the export's view offers, which checks the user again at click time; never a storage link,
      // which would outlive the user's rights.
      const view = yield* client.exports.getExport({ path: { jobId: accepted.jobId } })
      expect(notification?.link).toBe(view.file?.downloadUrl)
      expect(notification?.link).not.toMatch(/^memory:/)
      expect(notification?.body).not.toContain("memory://")
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("lists an export_failed notification with the user's message for a failed export", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(alice)
      yield* (yield* FaultInjection).set({ upload: { afterBytes: 0, retryable: false } })
      const accepted = yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
      yield* drainQueue
      const view = yield* client.exports.getExport({ path: { jobId: accepted.jobId } })
      const { items } = yield* client.notifications.listNotifications()
      expect(items.map((n) => [n.kind, n.jobId])).toStrictEqual([["export_failed", accepted.jobId]])
      expect(items[0]?.body).toContain(view.failure!.message)
      expect(items[0]?.body).not.toMatch(/injected|fault/i)
      expect(items[0]?.link).toBe(view.statusUrl)
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("marks a notification read at the current time, once: marking again keeps the first time", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(alice)
      yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
      yield* drainQueue
      const [notification] = (yield* client.notifications.listNotifications()).items
      yield* TestClock.adjust(Duration.minutes(10))
      const readAt = yield* DateTime.now
      const read = yield* client.notifications.markNotificationRead({ path: { notificationId: notification!.id } })
      expect(read.id).toBe(notification!.id)
      expect(read.readAt && DateTime.toEpochMillis(read.readAt)).toBe(DateTime.toEpochMillis(readAt))

      const listed = (yield* client.notifications.listNotifications()).items
      expect(listed.map((n) => n.readAt && DateTime.toEpochMillis(n.readAt))).toStrictEqual([
        DateTime.toEpochMillis(readAt)
      ])

      yield* TestClock.adjust(Duration.minutes(10))
      const again = yield* client.notifications.markNotificationRead({ path: { notificationId: notification!.id } })
      expect(again.readAt && DateTime.toEpochMillis(again.readAt)).toBe(DateTime.toEpochMillis(readAt))
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("marks read through a percent-encoded id as well", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(alice)
      yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
      yield* drainQueue
      const [notification] = (yield* client.notifications.listNotifications()).items
      const response = yield* postEmpty(
        `${NOTIFICATIONS_PATH}/${encodeURIComponent(notification!.id)}/read`,
        yield* tokenFor(alice)
      )
      expect(response.status).toBe(200)
      expect((response.json as { id: string; readAt?: string }).readAt).toBeDefined()
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("says notification_not_found for an id that is none", () =>
    Effect.gen(function*() {
      const token = yield* tokenFor(alice)
      const response = yield* postEmpty(`${NOTIFICATIONS_PATH}/no-such-notification/read`, token)
      expectRefused(response, "notification_not_found")
    }).pipe(Effect.provide(apiTestLayer())))

  it.effect("lists notifications newest first", () =>
    Effect.gen(function*() {
      const client = yield* clientFor(alice)
      const first = yield* client.exports.requestExport({ payload: ordersBody(), headers: {} })
      yield* drainQueue
      yield* TestClock.adjust(Duration.minutes(1))
      const second = yield* client.exports.requestExport({
        payload: ordersBody("2024-02-01", "2024-02-29"),
        headers: {}
      })
      yield* drainQueue
      const { items } = yield* client.notifications.listNotifications()
      expect(items.map((n) => n.jobId)).toStrictEqual([second.jobId, first.jobId])
    }).pipe(Effect.provide(apiTestLayer())))
})

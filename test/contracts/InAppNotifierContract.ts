// The behaviour every InAppNotifier must have: a notification is its owner's alone (user and merchant), delivery
// is idempotent by id, marking as read is idempotent, and the newest comes first.
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect } from "effect"
import type { Layer } from "effect"
import { InAppNotification, InAppNotifier } from "../../src/application/ports/InAppNotifier.js"
import type { Owner } from "../../src/domain/Identifiers.js"
import { expectSame, jobIdAt, uniqueOwners } from "./ContractSupport.js"

const BASE_MILLIS = Date.parse("2024-04-02T10:00:00Z")

const notificationFor = (
  owner: Owner,
  createdAtMillis = BASE_MILLIS,
  kind: InAppNotification["kind"] = "export_succeeded"
): InAppNotification => {
  const jobId = jobIdAt(createdAtMillis)
  return new InAppNotification({
    id: `${jobId}:${kind}`,
    owner,
    jobId,
    kind,
    title: kind === "export_succeeded" ? "Your export is ready" : "Your export failed",
    body: "Orders, 2024-01-01 to 2024-03-31 (1 234 rows). Ça marche « enfin ».",
    link: `/exports/${jobId}`,
    createdAt: DateTime.unsafeMake(createdAtMillis)
  })
}

const readAtMillis = (notification: InAppNotification | undefined): number | undefined =>
  notification?.readAt === undefined ? undefined : DateTime.toEpochMillis(notification.readAt)

export const inAppNotifierContract = <E>(name: string, makeLayer: () => Layer.Layer<InAppNotifier, E>) =>
  describe(`InAppNotifier contract: ${name}`, () => {
    const withNotifier = <A, E2>(test: Effect.Effect<A, E2, InAppNotifier>) => Effect.provide(test, makeLayer())

    it.effect("a delivered notification is listed for its owner and nobody else", () =>
      withNotifier(Effect.gen(function*() {
        const notifier = yield* InAppNotifier
        const { alice, aliceAtGlobex, bobAtAcme } = uniqueOwners()
        const notification = notificationFor(alice)
        yield* notifier.deliver(notification)
        const listed = yield* notifier.listFor(alice)
        expect(listed.length).toBe(1)
        expectSame(InAppNotification, listed[0]!, notification)
        expect(yield* notifier.listFor(bobAtAcme)).toEqual([])
        expect(yield* notifier.listFor(aliceAtGlobex)).toEqual([])
      })))

    it.effect("delivering the same notification twice stores it once", () =>
      withNotifier(Effect.gen(function*() {
        const notifier = yield* InAppNotifier
        const { alice } = uniqueOwners()
        const notification = notificationFor(alice)
        yield* notifier.deliver(notification)
        yield* notifier.deliver(notification)
        const listed = yield* notifier.listFor(alice)
        expect(listed.map((n) => n.id)).toEqual([notification.id])
      })))

    it.effect("delivering a notification again does not make it unread", () =>
      withNotifier(Effect.gen(function*() {
        const notifier = yield* InAppNotifier
        const { alice } = uniqueOwners()
        const notification = notificationFor(alice)
        const readAt = DateTime.unsafeMake(BASE_MILLIS + 60_000)
        yield* notifier.deliver(notification)
        yield* notifier.markRead(alice, notification.id, readAt)
        yield* notifier.deliver(notification)
        const listed = yield* notifier.listFor(alice)
        expect(listed.length).toBe(1)
        expect(readAtMillis(listed[0])).toBe(DateTime.toEpochMillis(readAt))
      })))

    it.effect("markRead by the owner sets readAt, and marking again keeps the first time", () =>
      withNotifier(Effect.gen(function*() {
        const notifier = yield* InAppNotifier
        const { alice } = uniqueOwners()
        const notification = notificationFor(alice)
        yield* notifier.deliver(notification)
        expect(readAtMillis((yield* notifier.listFor(alice))[0])).toBeUndefined()
        const firstRead = BASE_MILLIS + 60_000
        const read = yield* notifier.markRead(alice, notification.id, DateTime.unsafeMake(firstRead))
        expect(read.id).toBe(notification.id)
        expect(readAtMillis(read)).toBe(firstRead)
        expect(readAtMillis((yield* notifier.listFor(alice))[0])).toBe(firstRead)
        const again = yield* notifier.markRead(alice, notification.id, DateTime.unsafeMake(firstRead + 60_000))
        expect(readAtMillis(again)).toBe(firstRead)
        const listed = yield* notifier.listFor(alice)
        expect(listed.length).toBe(1)
        expect(readAtMillis(listed[0])).toBe(firstRead)
      })))

    it.effect("markRead by anyone but the owner fails with NotificationNotFound and marks nothing", () =>
      withNotifier(Effect.gen(function*() {
        const notifier = yield* InAppNotifier
        const { alice, aliceAtGlobex, bobAtAcme } = uniqueOwners()
        const notification = notificationFor(alice)
        yield* notifier.deliver(notification)
        for (const intruder of [bobAtAcme, aliceAtGlobex]) {
          const error = yield* Effect.flip(
            notifier.markRead(intruder, notification.id, DateTime.unsafeMake(BASE_MILLIS + 60_000))
          )
          expect(error._tag).toBe("NotificationNotFound")
          expect(error._tag === "NotificationNotFound" && error.notificationId).toBe(notification.id)
        }
        const listed = yield* notifier.listFor(alice)
        expect(listed.length).toBe(1)
        expect(readAtMillis(listed[0])).toBeUndefined()
      })))

    it.effect("markRead of an unknown notification fails with NotificationNotFound", () =>
      withNotifier(Effect.gen(function*() {
        const notifier = yield* InAppNotifier
        const { alice } = uniqueOwners()
        yield* notifier.deliver(notificationFor(alice))
        const unknown = notificationFor(alice, BASE_MILLIS + 1_000)
        const error = yield* Effect.flip(notifier.markRead(alice, unknown.id, DateTime.unsafeMake(BASE_MILLIS)))
        expect(error._tag).toBe("NotificationNotFound")
      })))

    it.effect("listFor lists the owner's notifications newest first", () =>
      withNotifier(Effect.gen(function*() {
        const notifier = yield* InAppNotifier
        const { alice, bobAtAcme } = uniqueOwners()
        const notifications = [
          notificationFor(alice, BASE_MILLIS + 2 * 60_000),
          notificationFor(alice, BASE_MILLIS, "export_failed"),
          notificationFor(bobAtAcme, BASE_MILLIS + 5 * 60_000),
          notificationFor(alice, BASE_MILLIS + 3 * 60_000, "export_failed"),
          notificationFor(alice, BASE_MILLIS + 60_000)
        ]
        yield* Effect.forEach(notifications, notifier.deliver, { discard: true })
        const listed = yield* notifier.listFor(alice)
        expect(listed.map((n) => n.id)).toEqual(
          notifications
            .filter((n) => alice.isOwnerOf(n))
            .sort((a, b) => DateTime.toEpochMillis(b.createdAt) - DateTime.toEpochMillis(a.createdAt))
            .map((n) => n.id)
        )
      })))
  })

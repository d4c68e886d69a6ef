// The behaviour every InAppNotifier must have: a notification is its owner's alone (user and merchant), delivery
// is idempotent by id, marking as read is idempotent, the newest comes first, and one past its retention is gone.
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, TestClock } from "effect"
import type { Layer } from "effect"
import { InAppNotification, InAppNotifier } from "../../src/application/ports/InAppNotifier.js"
import { EXPIRY_SWEEP_INTERVAL, notificationRetainedUntil } from "../../src/application/Retention.js"
import type { Owner } from "../../src/domain/Identifiers.js"
import { expectSame, jobIdAt, uniqueOwners } from "./ContractSupport.js"
import type { RetentionSupport } from "./ContractSupport.js"

const BASE_MILLIS = Date.parse("2024-04-02T10:00:00Z")

/** A notification of `owner`'s about a job made at `createdAtMillis`, created then. */
export const notificationFor = (
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

export const inAppNotifierContract = <E>(
  name: string,
  makeLayer: () => Layer.Layer<InAppNotifier, E>,
  retention: RetentionSupport = { deletesExpired: true }
) =>
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

    // Only where records really go: a store whose deletion this cannot see checks its TTL attribute instead.
    if (retention.deletesExpired) {
      it.effect(
        "a notification is gone within a sweep interval of its retention's end, and can no longer be marked read",
        () => {
          const SWEEP = Duration.toMillis(EXPIRY_SWEEP_INTERVAL)
          const { alice } = uniqueOwners()
          const older = notificationFor(alice)
          const newer = notificationFor(alice, BASE_MILLIS + 3 * 3_600_000, "export_failed")
          const olderUntil = notificationRetainedUntil(older)
          // A notifier grows by its deliveries: the memory inbox sweeps on one, the others on their own schedule.
          const grow = (notifier: InAppNotifier["Type"]) =>
            Effect.flatMap(
              DateTime.now,
              (now) => notifier.deliver(notificationFor(uniqueOwners().alice, now.epochMillis))
            )
          const listed = (notifier: InAppNotifier["Type"]) =>
            Effect.map(notifier.listFor(alice), (notifications) => notifications.map((n) => n.id))
          // The clock is set before the notifier is built, an hour before the first retention ends.
          return TestClock.setTime(olderUntil - SWEEP).pipe(Effect.zipRight(withNotifier(Effect.gen(function*() {
            const notifier = yield* InAppNotifier
            yield* notifier.deliver(older)
            yield* notifier.deliver(newer)

            yield* TestClock.setTime(olderUntil - 1)
            yield* grow(notifier)
            expect(yield* listed(notifier)).toStrictEqual([newer.id, older.id])

            yield* TestClock.setTime(olderUntil + SWEEP)
            yield* grow(notifier)
            expect(yield* listed(notifier)).toStrictEqual([newer.id])
            const error = yield* Effect.flip(notifier.markRead(alice, older.id, yield* DateTime.now))
            expect(error._tag).toBe("NotificationNotFound")

            yield* TestClock.setTime(notificationRetainedUntil(newer) + SWEEP)
            yield* grow(notifier)
            expect(yield* listed(notifier)).toStrictEqual([])
          }))))
        }
      )
    }
  })

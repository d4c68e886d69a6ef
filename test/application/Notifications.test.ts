import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Option, TestClock } from "effect"
import { FaultInjection } from "../../src/adapters/memory/FaultInjection.js"
import { listNotifications, markNotificationRead } from "../../src/application/Notifications.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { requestExport } from "../../src/application/RequestExport.js"
import type { Caller } from "../../src/application/RequestExport.js"
import { alice, bob, callerOf, drainQueue, ordersInput, testLayer } from "../support/Fixtures.js"

/** Same merchant as alice, another user. */
const carol = callerOf("carol", "m-acme")
/** Same userId as alice, another merchant. */
const aliceAtGlobex = callerOf("alice", "m-globex")

const APP = "https://app.example.com"
const ROWS = 50

/** Alice's export, run to its end; returns the job as stored afterwards. */
const aliceExportFinished = Effect.gen(function*() {
  const job = yield* requestExport(alice, ordersInput())
  yield* drainQueue
  return Option.getOrThrow(yield* (yield* JobStore).get(job.jobId))
})

/** The caller's notifications, asserted to be exactly one. */
const onlyNotificationOf = (caller: Caller) =>
  Effect.gen(function*() {
    const notifications = yield* listNotifications(caller.owner)
    expect(notifications.length).toBe(1)
    return notifications[0]!
  })

describe("listNotifications", () => {
  it.effect("shows the owner one notification of a finished export, with its row count and page", () =>
    Effect.gen(function*() {
      const job = yield* aliceExportFinished
      expect(job._tag).toBe("Succeeded")
      if (job._tag !== "Succeeded") return
      expect(job.result.rowCount).toBe(ROWS)

      const notification = yield* onlyNotificationOf(alice)
      expect(notification.jobId).toBe(job.jobId)
      expect(notification.kind).toBe("export_succeeded")
      expect(notification.title.trim()).not.toBe("")
      expect(notification.body).toContain(`${ROWS} rows`)
      // The API's download endpoint, which checks the user again when they click.
      expect(notification.link).toBe(`/api/v1/reports/exports/${job.jobId}/download`)
      expect(notification.readAt).toBeUndefined()
    }).pipe(Effect.provide(testLayer(ROWS, {}, APP))))

  it.effect("shows nothing to another user of the merchant, nor to a user of another merchant", () =>
    Effect.gen(function*() {
      yield* aliceExportFinished
      expect((yield* listNotifications(alice.owner)).length).toBe(1)
      for (const stranger of [carol, aliceAtGlobex, bob]) {
        expect(yield* listNotifications(stranger.owner)).toEqual([])
      }
    }).pipe(Effect.provide(testLayer(ROWS))))

  it.effect("tells the owner of a failed export what went wrong in words, without technical detail", () =>
    Effect.gen(function*() {
      const faults = yield* FaultInjection
      yield* faults.set({ query: { kind: "error", afterRows: 1, retryable: false } })
      const job = yield* aliceExportFinished
      expect(job._tag).toBe("Failed")
      if (job._tag !== "Failed") return

      const notification = yield* onlyNotificationOf(alice)
      expect(notification.jobId).toBe(job.jobId)
      expect(notification.kind).toBe("export_failed")
      expect(notification.title.trim()).not.toBe("")
      expect(job.failure.userMessage.trim()).not.toBe("")
      expect(notification.body).toContain(job.failure.userMessage)
      expect(notification.body).not.toContain("injected fault")
      expect(notification.body).not.toContain("QueryFailed")
      expect(notification.link).toBe(`/api/v1/reports/exports/${job.jobId}`)
      expect(yield* listNotifications(bob.owner)).toEqual([])
    }).pipe(Effect.provide(testLayer(ROWS, {}, APP))))
})

describe("markNotificationRead", () => {
  it.effect("marks the owner's notification read now, and keeps the first time when marked again", () =>
    Effect.gen(function*() {
      yield* aliceExportFinished
      const { id } = yield* onlyNotificationOf(alice)
      yield* TestClock.adjust("5 minutes")
      const firstRead = yield* DateTime.now

      const read = yield* markNotificationRead(alice.owner, id)
      expect(read.id).toBe(id)
      expect(read.readAt?.epochMillis).toBe(firstRead.epochMillis)
      expect((yield* onlyNotificationOf(alice)).readAt?.epochMillis).toBe(firstRead.epochMillis)

      yield* TestClock.adjust("1 hour")
      const again = yield* markNotificationRead(alice.owner, id)
      expect(again.readAt?.epochMillis).toBe(firstRead.epochMillis)
      expect((yield* onlyNotificationOf(alice)).readAt?.epochMillis).toBe(firstRead.epochMillis)
    }).pipe(Effect.provide(testLayer(ROWS))))

  it.effect("fails with NotificationNotFound for anyone but the owner, and leaves it unread", () =>
    Effect.gen(function*() {
      yield* aliceExportFinished
      const { id } = yield* onlyNotificationOf(alice)
      for (const stranger of [carol, aliceAtGlobex, bob]) {
        const error = yield* Effect.flip(markNotificationRead(stranger.owner, id))
        expect(error._tag).toBe("NotificationNotFound")
        if (error._tag === "NotificationNotFound") expect(error.notificationId).toBe(id)
      }
      expect((yield* onlyNotificationOf(alice)).readAt).toBeUndefined()
    }).pipe(Effect.provide(testLayer(ROWS))))

  it.effect("fails with NotificationNotFound for an unknown id", () =>
    Effect.gen(function*() {
      const job = yield* aliceExportFinished
      const unknown = ["no-such-notification", "", `${job.jobId}:export_failed`]
      for (const id of unknown) {
        const error = yield* Effect.flip(markNotificationRead(alice.owner, id))
        expect(error._tag).toBe("NotificationNotFound")
      }
      expect((yield* onlyNotificationOf(alice)).readAt).toBeUndefined()
    }).pipe(Effect.provide(testLayer(ROWS))))
})

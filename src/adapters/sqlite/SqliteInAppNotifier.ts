// In-app notifications in the embedded database, each its schema's encoded JSON beside its owner and time.
// Delivery is idempotent by id (a repeat keeps the first copy, read or not); only the owner can mark one read. A
// notification is deleted once its retention is over (application/Retention.ts), as DynamoDB's TTL deletes it.
import { Effect, Either, Layer, Schema } from "effect"
import { InAppNotification, InAppNotifier } from "../../application/ports/InAppNotifier.js"
import { notificationRetainedUntil } from "../../application/Retention.js"
import { NotificationFailed, NotificationNotFound } from "../../domain/Errors.js"
import { SqliteDatabase } from "./SqliteDatabase.js"
import type { SqliteError } from "./SqliteDatabase.js"
import { fillRetention, purgeExpired } from "./SqliteExpiry.js"

const NotificationJson = Schema.parseJson(InAppNotification)
const encodeNotification = Schema.encodeSync(NotificationJson)
const decodeNotification = Schema.decodeUnknownSync(NotificationJson)
const decodeNotificationEither = Schema.decodeUnknownEither(NotificationJson)

const failed = (error: SqliteError) => new NotificationFailed({ channel: "inApp", detail: `SQLite ${error.message}` })

export const make = Effect.gen(function*() {
  const db = yield* SqliteDatabase
  const insert = db.prepare(
    `INSERT OR IGNORE INTO notifications (id, merchant_id, user_id, created_at, retained_until, notification)
     VALUES (?, ?, ?, ?, ?, ?)`
  )
  const ownersNewestFirst = db.prepare(
    `SELECT notification FROM notifications WHERE merchant_id = ? AND user_id = ?
     ORDER BY created_at DESC, id DESC`
  )
  const ownersOne = db.prepare(
    "SELECT notification FROM notifications WHERE id = ? AND merchant_id = ? AND user_id = ?"
  )
  const rewrite = db.prepare("UPDATE notifications SET notification = ? WHERE id = ?")
  const deleteExpired = db.prepare("DELETE FROM notifications WHERE retained_until <= ?")

  yield* fillRetention(
    db,
    "InAppNotifier.fillRetention",
    {
      select: "SELECT id, notification AS record FROM notifications WHERE retained_until IS NULL",
      update: "UPDATE notifications SET retained_until = ? WHERE id = ?"
    },
    (record) =>
      Either.match(decodeNotificationEither(record), { onLeft: () => undefined, onRight: notificationRetainedUntil })
  )
  yield* purgeExpired(db, "InAppNotifier.expire", (now) => Number(deleteExpired.run(now).changes))

  return InAppNotifier.of({
    deliver: (notification) =>
      Effect.suspend(() => {
        const json = encodeNotification(notification)
        return db.use("InAppNotifier.deliver", () => {
          insert.run(
            notification.id,
            notification.owner.merchantId,
            notification.owner.userId,
            notification.createdAt.epochMillis,
            notificationRetainedUntil(notification),
            json
          )
        })
      }).pipe(Effect.mapError(failed)),

    listFor: (owner) =>
      db.use(
        "InAppNotifier.listFor",
        () =>
          ownersNewestFirst.all(owner.merchantId, owner.userId).map((row) => decodeNotification(row["notification"]))
      ).pipe(Effect.mapError(failed)),

    markRead: (owner, notificationId, at) =>
      db.transaction("InAppNotifier.markRead", () => {
        // Another owner's notification is as unknown as one that does not exist.
        const row = ownersOne.get(notificationId, owner.merchantId, owner.userId)
        if (row === undefined) return undefined
        const found = decodeNotification(row["notification"])
        if (found.readAt !== undefined) return found
        const read = new InAppNotification({ ...found, readAt: at })
        rewrite.run(encodeNotification(read), notificationId)
        return read
      }).pipe(
        Effect.mapError(failed),
        Effect.flatMap((read) =>
          read === undefined ? Effect.fail(new NotificationNotFound({ notificationId })) : Effect.succeed(read)
        )
      )
  })
})

/** The InAppNotifier on the database in context, deleting expired notifications for as long as it lives. */
export const layer = Layer.scoped(InAppNotifier, make)

// In-app notifications in DynamoDB (the table layout is in DynamoDbTables.ts). Delivery is a put that only a new id
// passes, so a repeated delivery keeps the first copy and whether it was read; reading is checked against the owner
// in the same conditional write that marks it.
import { PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb"
import type { NativeAttributeValue } from "@aws-sdk/lib-dynamodb"
import { DateTime, Effect, Layer, Schema } from "effect"
import { InAppNotification, InAppNotifier } from "../../application/ports/InAppNotifier.js"
import { notificationRetainedUntil } from "../../application/Retention.js"
import { NotificationFailed, NotificationNotFound } from "../../domain/Errors.js"
import { DynamoDb, queryPages } from "./DynamoDb.js"
import type { DynamoDbError } from "./DynamoDb.js"
import { ownerKeyOf } from "./DynamoDbJobStore.js"
import { NOTIFICATIONS_BY_OWNER_INDEX } from "./DynamoDbTables.js"

type Item = Record<string, NativeAttributeValue>

const NotificationJson = Schema.parseJson(InAppNotification)
const encodeNotification = Schema.encode(NotificationJson)
const decodeNotification = Schema.decodeUnknown(NotificationJson)

/** Newest first when sorted descending; notifications made in the same millisecond by id, descending. */
const createdAtKeyOf = (notification: InAppNotification): string =>
  `${String(DateTime.toEpochMillis(notification.createdAt)).padStart(15, "0")}#${notification.id}`

const failed = (detail: string) => new NotificationFailed({ channel: "inApp", detail })

const notificationOf = (item: Item) =>
  Effect.gen(function*() {
    const stored = yield* decodeNotification(item["notification"])
    const readAt: unknown = item["readAt"]
    return typeof readAt === "string"
      ? new InAppNotification({ ...stored, readAt: yield* Schema.decodeUnknown(Schema.DateTimeUtc)(readAt) })
      : stored
  }).pipe(Effect.mapError((error) => failed(`undecodable notification ${String(item["id"])}: ${error.message}`)))

export const make = Effect.gen(function*() {
  const db = yield* DynamoDb
  const TableName = db.tables.notifications
  const toFailed = (error: DynamoDbError) => failed(`DynamoDB ${error.operation}: ${error.name}: ${error.detail}`)

  return InAppNotifier.of({
    deliver: (notification) =>
      Effect.gen(function*() {
        // readAt is kept apart, in its own attribute, so that markRead can set it only once.
        const { readAt: _readAt, ...unread } = notification
        const json = yield* Effect.orDie(encodeNotification(new InAppNotification(unread)))
        yield* db.call("PutItem", (documents, options) =>
          documents.send(
            new PutCommand({
              TableName,
              Item: {
                id: notification.id,
                notification: json,
                ownerKey: ownerKeyOf(notification.owner),
                createdAtKey: createdAtKeyOf(notification),
                ...(notification.readAt === undefined ? {} : { readAt: DateTime.formatIso(notification.readAt) }),
                expiresAt: Math.floor(notificationRetainedUntil(notification) / 1000)
              },
              ConditionExpression: "attribute_not_exists(id)"
            }),
            options
          ))
      }).pipe(
        // Delivered before: the stored copy stays as it is.
        Effect.catchIf((error) => error.conditionFailed, () => Effect.void),
        Effect.mapError(toFailed),
        Effect.withSpan("InAppNotifier.deliver")
      ),

    listFor: (owner) =>
      queryPages(db, {
        TableName,
        IndexName: NOTIFICATIONS_BY_OWNER_INDEX,
        KeyConditionExpression: "ownerKey = :owner",
        ExpressionAttributeValues: { ":owner": ownerKeyOf(owner) },
        ScanIndexForward: false
      }).pipe(
        Effect.flatMap((items) => Effect.forEach(items, notificationOf)),
        Effect.catchTag("DynamoDbError", (error) => Effect.fail(toFailed(error)))
      ),

    markRead: (owner, notificationId, at) =>
      db.call("UpdateItem", (documents, options) =>
        documents.send(
          new UpdateCommand({
            TableName,
            Key: { id: notificationId },
            // Another owner's notification is as unknown as a missing one.
            ConditionExpression: "ownerKey = :owner",
            UpdateExpression: "SET readAt = if_not_exists(readAt, :at)",
            ExpressionAttributeValues: { ":owner": ownerKeyOf(owner), ":at": DateTime.formatIso(at) },
            ReturnValues: "ALL_NEW"
          }),
          options
        )).pipe(
          Effect.flatMap((output) =>
            output.Attributes === undefined
              ? Effect.fail(failed(`UpdateItem returned no notification ${notificationId}`))
              : notificationOf(output.Attributes)
          ),
          Effect.catchTag("DynamoDbError", (error) =>
            Effect.fail(error.conditionFailed ? new NotificationNotFound({ notificationId }) : toFailed(error))),
          Effect.withSpan("InAppNotifier.markRead")
        )
  })
})

/** The InAppNotifier on the notifications table of the DynamoDb client's settings. */
export const layer = Layer.effect(InAppNotifier, make)

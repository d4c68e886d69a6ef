import type { DateTime, Effect } from "effect"
import { Context, Schema } from "effect"
import type { NotificationFailed, NotificationNotFound } from "../../domain/Errors.js"
import { ExportJobId, Owner } from "../../domain/Identifiers.js"

export class InAppNotification extends Schema.Class<InAppNotification>("InAppNotification")({
  /** Derived from the job and the outcome, so that delivering the same notification twice stores it once. */
  id: Schema.String,
  owner: Owner,
  jobId: ExportJobId,
  kind: Schema.Literal("export_succeeded", "export_failed", "export_cancelled"),
  title: Schema.String,
  body: Schema.String,
  /** Where the app should send the user: the export's status, from which it can be downloaded. */
  link: Schema.String,
  createdAt: Schema.DateTimeUtc,
  readAt: Schema.optional(Schema.DateTimeUtc)
}) {}

/** The user-service's in-app notifications. Delivery is idempotent by notification id. */
export class InAppNotifier extends Context.Tag("exports/InAppNotifier")<InAppNotifier, {
  readonly deliver: (notification: InAppNotification) => Effect.Effect<void, NotificationFailed>
  /** The owner's notifications, newest first. */
  readonly listFor: (owner: Owner) => Effect.Effect<ReadonlyArray<InAppNotification>, NotificationFailed>
  readonly markRead: (
    owner: Owner,
    notificationId: string,
    at: DateTime.Utc
  ) => Effect.Effect<InAppNotification, NotificationNotFound | NotificationFailed>
}>() {}

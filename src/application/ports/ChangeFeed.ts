// What changed for an owner, as the process learns it: from the stores it writes itself (the embedded server), or
// from a poller over a store that other processes write (ADR 33). One feed per process fans out to every stream.
import type { Effect, Option, Queue, Scope } from "effect"
import { Context, Schema } from "effect"
import type { ExportJob } from "../../domain/ExportJob.js"
import type { Owner } from "../../domain/Identifiers.js"
import type { InAppNotification } from "./InAppNotifier.js"

export type Change =
  | { readonly _tag: "JobChanged"; readonly job: ExportJob }
  | { readonly _tag: "NotificationAdded"; readonly notification: InAppNotification }

export const ownerOfChange = (change: Change): Owner =>
  change._tag === "JobChanged" ? change.job.owner : change.notification.owner

/** A change with its position in its owner's sequence: an opaque cursor that a stream resumes after. */
export interface Sequenced {
  readonly cursor: string
  readonly change: Change
}

export interface Subscription {
  /** The cursor of the owner's last change before this subscription: every change up to it is in the stores. */
  readonly cursor: string
  /**
   * The owner's changes after the cursor the subscriber asked to resume from, when the feed still holds all of them;
   * None when it cannot say (another process's or an evicted cursor, or none given): the subscriber reads the state.
   */
  readonly missed: Option.Option<ReadonlyArray<Sequenced>>
  /** The owner's changes from now on, in order. Shut down when the subscriber falls too far behind. */
  readonly changes: Queue.Dequeue<Sequenced>
}

export class TooManyStreams extends Schema.TaggedError<TooManyStreams>()("TooManyStreams", {
  limit: Schema.Number
}) {}

export class ChangeFeed extends Context.Tag("exports/ChangeFeed")<ChangeFeed, {
  /** Tells the owner's subscribers. Never fails: a change nobody listens to is dropped. */
  readonly publish: (change: Change) => Effect.Effect<void>
  /**
   * Follows the owner's changes for the life of the scope, at most `maxStreams` subscriptions per owner at once
   * (TooManyStreams beyond).
   */
  readonly subscribe: (
    owner: Owner,
    options: { readonly after: Option.Option<string>; readonly maxStreams: number }
  ) => Effect.Effect<Subscription, TooManyStreams, Scope.Scope>
  /** The owners someone follows now (or did a moment ago and may resume): what a poller must look at. */
  readonly watched: Effect.Effect<ReadonlyArray<Owner>>
}>() {}

// An owner's live events: the changes of their exports and their new notifications, resumable (ADR 33). A stream
// resumes from the feed's buffer when it still holds everything after the client's last event; otherwise it starts
// from the current state (the newest jobs and the unread notifications), then follows the feed.
import { Chunk, Config, Context, Duration, Effect, Layer, Option, Queue, Stream } from "effect"
import type { ExportJob } from "../domain/ExportJob.js"
import type { Owner } from "../domain/Identifiers.js"
import type { Change, Sequenced } from "./ports/ChangeFeed.js"
import { ChangeFeed } from "./ports/ChangeFeed.js"
import type { InAppNotification } from "./ports/InAppNotifier.js"
import { InAppNotifier } from "./ports/InAppNotifier.js"
import { JobStore } from "./ports/JobStore.js"
import { defaultTenantLimits, eventStreamsPerUserConfig } from "./TenantLimitSettings.js"

/** An event of an owner's stream: its id is the cursor a reconnecting client sends back as Last-Event-ID. */
export interface OwnerEvent {
  readonly id: string
  readonly change: Change
}

/** How many of the owner's newest jobs a stream starts with, besides the ones in progress. */
export const CURRENT_JOBS = 20
/** How many unread notifications a stream starts with, the newest. */
export const CURRENT_NOTIFICATIONS = 20

export interface EventStreamSettingsShape {
  /** Open streams per user in one process; one more is refused (429). Read with the tenant limits (ADR 45). */
  readonly streamsPerUser: number
  /** A comment this often keeps an idle stream open through proxies that close silent connections. */
  readonly heartbeat: Duration.Duration
  /** How long a stream ticket may wait for its one use. */
  readonly ticketTtl: Duration.Duration
}

export class EventStreamSettings extends Context.Tag("exports/EventStreamSettings")<
  EventStreamSettings,
  EventStreamSettingsShape
>() {
  static readonly defaults: EventStreamSettingsShape = {
    streamsPerUser: defaultTenantLimits.eventStreamsPerUser,
    heartbeat: Duration.seconds(15),
    ticketTtl: Duration.seconds(60)
  }

  static readonly config: Config.Config<EventStreamSettingsShape> = Config.all({
    streamsPerUser: eventStreamsPerUserConfig,
    heartbeat: Config.duration("EVENT_HEARTBEAT_INTERVAL").pipe(
      Config.validate({
        message: "must be from 1 second to 1 minute",
        validation: (d) => Duration.between(d, { minimum: Duration.seconds(1), maximum: Duration.minutes(1) })
      }),
      Config.withDefault(EventStreamSettings.defaults.heartbeat)
    ),
    ticketTtl: Config.duration("EVENT_TICKET_TTL").pipe(
      Config.validate({
        message: "must be from 5 seconds to 5 minutes",
        validation: (d) => Duration.between(d, { minimum: Duration.seconds(5), maximum: Duration.minutes(5) })
      }),
      Config.withDefault(EventStreamSettings.defaults.ticketTtl)
    )
  })

  static readonly layer = Layer.effect(EventStreamSettings, EventStreamSettings.config)

  static readonly layerWith = (settings: Partial<EventStreamSettingsShape>) =>
    Layer.succeed(EventStreamSettings, { ...EventStreamSettings.defaults, ...settings })
}

const newerFirst = (a: ExportJob, b: ExportJob) => a.revision >= b.revision ? a : b

/**
 * The owner's state now, as the events a fresh client needs: their newest and in-progress jobs and unread
 * notifications, merged with the changes the feed queued while they were read. Every event carries the cursor of
 * the last change merged, since the state reflects all of them.
 */
const currentState = (owner: Owner, cursor: string, changes: Queue.Dequeue<Sequenced>) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const notifier = yield* InAppNotifier
    const [page, active, notifications] = yield* Effect.all([
      store.listByOwner(owner, { limit: CURRENT_JOBS, after: undefined }),
      store.listActive(owner),
      notifier.listFor(owner)
    ], { concurrency: "unbounded" })
    const jobs = new Map<string, ExportJob>()
    for (const job of [...page.jobs, ...active]) {
      const known = jobs.get(job.jobId)
      jobs.set(job.jobId, known === undefined ? job : newerFirst(known, job))
    }
    const unread = new Map<string, InAppNotification>(
      notifications.filter((notice) => notice.readAt === undefined).slice(0, CURRENT_NOTIFICATIONS).map((
        notice
      ) => [notice.id, notice])
    )
    // Changes published since the subscription: written before or while the state was read, so merged into it.
    const queued = Chunk.toReadonlyArray(yield* Queue.takeAll(changes))
    for (const { change } of queued) {
      if (change._tag === "JobChanged") {
        const known = jobs.get(change.job.jobId)
        jobs.set(change.job.jobId, known === undefined ? change.job : newerFirst(known, change.job))
      } else {
        unread.set(change.notification.id, change.notification)
      }
    }
    const id = queued.length === 0 ? cursor : queued[queued.length - 1]!.cursor
    const jobEvents = [...jobs.values()].sort((a, b) => a.jobId.localeCompare(b.jobId)).map((job): OwnerEvent => ({
      id,
      change: { _tag: "JobChanged", job }
    }))
    const noticeEvents = [...unread.values()]
      .sort((a, b) => a.createdAt.epochMillis - b.createdAt.epochMillis)
      .map((notification): OwnerEvent => ({ id, change: { _tag: "NotificationAdded", notification } }))
    return [...jobEvents, ...noticeEvents]
  })

/**
 * Drops what the client already has: a job's change older than one it was sent (a feed may publish two writes out
 * of order, a poller may see a state twice), and a notification it was sent.
 */
const newestOnly = <E, R>(events: Stream.Stream<OwnerEvent, E, R>): Stream.Stream<OwnerEvent, E, R> =>
  Stream.suspend(() => {
    const revisions = new Map<string, number>()
    const notices = new Set<string>()
    return Stream.filter(events, ({ change }) => {
      if (change._tag === "NotificationAdded") {
        if (notices.has(change.notification.id)) return false
        notices.add(change.notification.id)
        return true
      }
      const sent = revisions.get(change.job.jobId)
      if (sent !== undefined && sent >= change.job.revision) return false
      revisions.set(change.job.jobId, change.job.revision)
      return true
    })
  })

/**
 * Opens the owner's stream for the life of the scope: TooManyStreams when they already have as many as allowed.
 * `lastEventId` is the client's Last-Event-ID: the stream continues after it when the feed still holds what
 * followed, and starts from the current state otherwise.
 */
export const openEventStream = Effect.fn("Events.open")(function*(owner: Owner, lastEventId: Option.Option<string>) {
  const feed = yield* ChangeFeed
  const settings = yield* EventStreamSettings
  const subscription = yield* feed.subscribe(owner, { after: lastEventId, maxStreams: settings.streamsPerUser })
  const first: ReadonlyArray<OwnerEvent> = Option.isSome(subscription.missed)
    ? subscription.missed.value.map(({ change, cursor }) => ({ id: cursor, change }))
    : yield* currentState(owner, subscription.cursor, subscription.changes)
  const live = Stream.map(Stream.fromQueue(subscription.changes), ({ change, cursor }): OwnerEvent => ({
    id: cursor,
    change
  }))
  return newestOnly(Stream.concat(Stream.fromIterable(first), live))
})

// For an API process that does not see the workers' writes (`npm run serve` beside `npm run worker`): one poller
// per process reads the stores through their ports and feeds the change feed (ADR 33). Each round reads the jobs in
// progress of every owner (the active-jobs index the sweeper reads), once more each job of a followed owner that has
// left it, and the notifications of each followed owner. It reads nothing while nobody follows anyone.
import { Config, DateTime, Duration, Effect, Layer, Schedule } from "effect"
import { ChangeFeed } from "../../application/ports/ChangeFeed.js"
import { InAppNotifier } from "../../application/ports/InAppNotifier.js"
import { JobStore } from "../../application/ports/JobStore.js"
import type { ExportJob } from "../../domain/ExportJob.js"
import type { ExportJobId, Owner } from "../../domain/Identifiers.js"
import { ownerKey } from "../memory/MapKeys.js"

export const DEFAULT_POLL_INTERVAL = Duration.seconds(1)

export const pollIntervalConfig: Config.Config<Duration.Duration> = Config.duration("EVENT_POLL_INTERVAL").pipe(
  Config.validate({
    message: "must be from 100 milliseconds to 1 minute",
    validation: (d) => Duration.between(d, { minimum: Duration.millis(100), maximum: Duration.minutes(1) })
  }),
  Config.withDefault(DEFAULT_POLL_INTERVAL)
)

const PAGE = 100
/** Ids are made by other processes' clocks: look a little ahead of ours for the newest jobs in progress. */
const CLOCK_ALLOWANCE = Duration.minutes(5)

export const make = Effect.gen(function*() {
  const store = yield* JobStore
  const notifier = yield* InAppNotifier
  const feed = yield* ChangeFeed
  /** Followed owners' jobs in progress at the last round, by id, with the revision last published. */
  let inProgress = new Map<string, number>()
  /** Followed owners' notifications already published (or there when the owner was first looked at). */
  const notices = new Map<string, Set<string>>()

  /**
   * The revision published of each job this round and the round before: a job that leaves the active index and the
   * notice of its end, read in the same round or the next, are one change to publish, not two.
   */
  let publishedBefore = new Map<string, number>()
  let publishedNow = new Map<string, number>()

  const publishJob = (job: ExportJob) => {
    const last = Math.max(publishedBefore.get(job.jobId) ?? -1, publishedNow.get(job.jobId) ?? -1)
    if (job.revision <= last) return Effect.void
    publishedNow.set(job.jobId, job.revision)
    return feed.publish({ _tag: "JobChanged", job })
  }

  const activeJobs = (before: DateTime.Utc) =>
    Effect.gen(function*() {
      const all: Array<ExportJob> = []
      let after: ExportJobId | undefined = undefined
      for (;;) {
        const page: ReadonlyArray<ExportJob> = yield* store.listActiveCreatedBefore(before, PAGE, after)
        all.push(...page)
        if (page.length < PAGE) return all
        after = page[page.length - 1]!.jobId
      }
    })

  const notificationsOf = (owner: Owner) =>
    Effect.gen(function*() {
      const key = ownerKey(owner)
      const list = yield* notifier.listFor(owner)
      const known = notices.get(key)
      // The first look publishes the unread ones: a stream opened just before may have read the state without them.
      const fresh = list.filter((notice) => known === undefined ? notice.readAt === undefined : !known.has(notice.id))
      notices.set(key, new Set(list.map((notice) => notice.id)))
      for (const notice of [...fresh].reverse()) {
        yield* feed.publish({ _tag: "NotificationAdded", notification: notice })
        // A job may start and finish between two rounds: its notice is how the poller learns it finished.
        if (known !== undefined) {
          const job = yield* store.get(notice.jobId)
          if (job._tag === "Some") yield* publishJob(job.value)
        }
      }
    })

  const round = Effect.gen(function*() {
    const owners = yield* feed.watched
    if (owners.length === 0) {
      inProgress = new Map()
      notices.clear()
      publishedBefore = new Map()
      return
    }
    const followed = new Set(owners.map(ownerKey))
    for (const key of notices.keys()) if (!followed.has(key)) notices.delete(key)
    const now = yield* DateTime.now
    const active = (yield* activeJobs(DateTime.addDuration(now, CLOCK_ALLOWANCE))).filter((job) =>
      followed.has(ownerKey(job.owner))
    )
    const next = new Map<string, number>()
    for (const job of active) {
      next.set(job.jobId, job.revision)
      if ((inProgress.get(job.jobId) ?? -1) < job.revision) yield* publishJob(job)
    }
    for (const [jobId, revision] of inProgress) {
      if (next.has(jobId)) continue
      const left = yield* store.get(jobId as ExportJobId)
      if (left._tag === "Some" && left.value.revision > revision) yield* publishJob(left.value)
    }
    inProgress = next
    yield* Effect.forEach(owners, notificationsOf, { discard: true })
    publishedBefore = publishedNow
    publishedNow = new Map()
  })

  return round.pipe(
    Effect.catchAll((error) => Effect.logWarning("event poller round failed; trying again", { error: error._tag })),
    Effect.withSpan("Events.poll")
  )
})

/** Polls every `interval` for the life of the layer. */
export const layer = (interval: Duration.Duration) =>
  Layer.scopedDiscard(
    Effect.flatMap(make, (round) => Effect.forkScoped(Effect.repeat(round, Schedule.spaced(interval))))
  )

export const layerConfig = Layer.unwrapEffect(Effect.map(pollIntervalConfig, layer))

// Jobs in memory, with the same conditional-write rule as the durable stores: an update lands only on the
// revision it was computed from. Indexed by owner so that each call costs what its answer costs, not the size of
// the whole store. A finished job, and the idempotency key it holds, are evicted once their retention is over
// (application/Retention.ts), as DynamoDB's TTL deletes them, so that a long-running server stays bounded.
import { Effect, Layer, Option } from "effect"
import { holdsIdempotencyKey, inProgressAnswer, JobStore } from "../../application/ports/JobStore.js"
import { jobRetainedUntil } from "../../application/Retention.js"
import type { ExportLimitReached } from "../../domain/Errors.js"
import { JobConflict } from "../../domain/Errors.js"
import type { ExportJob, QueuedJob } from "../../domain/ExportJob.js"
import { IDEMPOTENCY_WINDOW_MILLIS, sameRequestAs } from "../../domain/ExportJob.js"
import type { ExportJobId, Owner } from "../../domain/Identifiers.js"
import { firstExportJobIdAt } from "../../domain/Identifiers.js"
import { exportLimitReached } from "../../domain/TenantLimits.js"
import { makeEviction } from "./Eviction.js"
import { keyOf, ownerKey } from "./MapKeys.js"

const isActive = (job: ExportJob): boolean => job._tag === "Queued" || job._tag === "Running"

/**
 * Inserts `item` into `items`, kept in ascending order of `idOf`; ids from one process arrive in order, so this is
 * nearly always a push.
 */
const insertSorted = <A>(items: Array<A>, item: A, idOf: (item: A) => ExportJobId): void => {
  let at = items.length
  while (at > 0 && idOf(items[at - 1]!) > idOf(item)) at--
  items.splice(at, 0, item)
}

const itself = (id: ExportJobId) => id
const jobIdOf = (job: ExportJob) => job.jobId

export const make = Effect.sync(() => {
  const jobs = new Map<ExportJobId, ExportJob>()
  /** Each owner's job ids, oldest first. */
  const byOwner = new Map<string, Array<ExportJobId>>()
  /**
   * Queued and Running jobs, oldest first, grouped by owner, report, format and dates: every request's create asks
   * for the one that is the same export as itself (`inProgressAnswer`), and under load an owner has many jobs in
   * progress (the workers fall behind), so the answer must not cost a comparison with each of them. Jobs that are
   * the same export share a group.
   */
  const activeByRequest = new Map<string, Array<ExportJob>>()
  /** The newest job created with each (owner, idempotency key). */
  const byIdempotencyKey = new Map<string, ExportJobId>()
  /** Finished jobs and when their retention ends, in epoch milliseconds. */
  const retainedUntil = new Map<ExportJobId, number>()
  const whenEvictionDue = makeEviction()
  /** How many jobs are Queued or Running per owner and per merchant, kept by `track`, for the caps (ADR 45). */
  const activeCounts = new Map<string, number>()
  const countActive = (key: string, by: number): void => {
    const count = (activeCounts.get(key) ?? 0) + by
    if (count === 0) activeCounts.delete(key)
    else activeCounts.set(key, count)
  }
  const ownerCountKey = (owner: Owner) => keyOf("user", ownerKey(owner))
  const merchantCountKey = (owner: Owner) => keyOf("merchant", owner.merchantId)

  /** Drops every finished job whose retention is over, with its place in its owner's list and its key. */
  const evictExpired = (now: number): void => {
    const evictedByOwner = new Map<string, Set<ExportJobId>>()
    for (const [jobId, until] of retainedUntil) {
      if (until > now) continue
      retainedUntil.delete(jobId)
      const job = jobs.get(jobId)!
      jobs.delete(jobId)
      const owner = ownerKey(job.owner)
      const evicted = evictedByOwner.get(owner)
      if (evicted === undefined) evictedByOwner.set(owner, new Set([jobId]))
      else evicted.add(jobId)
      if (job.idempotencyKey !== undefined) {
        const key = keyOf(owner, job.idempotencyKey)
        if (byIdempotencyKey.get(key) === jobId) byIdempotencyKey.delete(key)
      }
    }
    for (const [owner, evicted] of evictedByOwner) {
      const kept = byOwner.get(owner)!.filter((id) => !evicted.has(id))
      if (kept.length === 0) byOwner.delete(owner)
      else byOwner.set(owner, kept)
    }
  }

  const requestKey = (owner: Owner, { format, report }: Pick<ExportJob, "report" | "format">): string =>
    keyOf(owner.merchantId, owner.userId, report._tag, format, report.params.dateFrom, report.params.dateTo)

  /**
   * Keeps `job`'s group up to date: adds it (oldest first), replaces the entry with its id, or takes it out once
   * finished. `created` says it cannot be in the group yet.
   */
  const track = (job: ExportJob, created: boolean): void => {
    const key = requestKey(job.owner, job)
    const list = activeByRequest.get(key)
    const at = created || list === undefined ? -1 : list.findIndex((other) => other.jobId === job.jobId)
    if (at >= 0) {
      if (isActive(job)) {
        list![at] = job
      } else {
        list!.splice(at, 1)
        if (list!.length === 0) activeByRequest.delete(key)
        countActive(ownerCountKey(job.owner), -1)
        countActive(merchantCountKey(job.owner), -1)
      }
    } else if (isActive(job)) {
      countActive(ownerCountKey(job.owner), 1)
      countActive(merchantCountKey(job.owner), 1)
      // Nearly every group only ever holds one job: a literal reserves one slot, where growing an empty array
      // reserves seventeen.
      if (list === undefined) activeByRequest.set(key, [job])
      else insertSorted(list, job, jobIdOf)
    }
  }

  const keyTaken = (job: QueuedJob): boolean => {
    if (job.idempotencyKey === undefined) return false
    const previous = byIdempotencyKey.get(keyOf(ownerKey(job.owner), job.idempotencyKey))
    const other = previous === undefined ? undefined : jobs.get(previous)
    return other !== undefined && holdsIdempotencyKey(other) &&
      job.requestedAt.epochMillis - other.requestedAt.epochMillis < IDEMPOTENCY_WINDOW_MILLIS
  }

  return JobStore.of({
    // Only a create makes the store grow, so it is where expired jobs are swept.
    create: (job, checks) =>
      Effect.zipRight(
        whenEvictionDue(evictExpired),
        Effect.suspend((): Effect.Effect<Option.Option<ExportJob>, JobConflict | ExportLimitReached> => {
          if (jobs.has(job.jobId) || keyTaken(job)) {
            return Effect.fail(new JobConflict({ jobId: job.jobId, expectedRevision: -1 }))
          }
          if (checks?.inProgressDeadline !== undefined) {
            const newest = activeByRequest.get(requestKey(job.owner, job))?.findLast(sameRequestAs(job))
            const answer = inProgressAnswer(newest, job, checks.inProgressDeadline)
            if (Option.isSome(answer)) return Effect.succeed(answer)
          }
          const limits = checks?.limits
          const refused = limits === undefined ? Option.none() : exportLimitReached({
            user: activeCounts.get(ownerCountKey(job.owner)) ?? 0,
            merchant: activeCounts.get(merchantCountKey(job.owner)) ?? 0
          }, limits)
          if (Option.isSome(refused)) return Effect.fail(refused.value)
          jobs.set(job.jobId, job)
          const owner = ownerKey(job.owner)
          const ids = byOwner.get(owner) ?? []
          insertSorted(ids, job.jobId, itself)
          byOwner.set(owner, ids)
          if (job.idempotencyKey !== undefined) byIdempotencyKey.set(keyOf(owner, job.idempotencyKey), job.jobId)
          track(job, true)
          return Effect.succeedNone
        })
      ),
    findByIdempotencyKey: (owner, key) =>
      Effect.sync(() => {
        const id = byIdempotencyKey.get(keyOf(ownerKey(owner), key))
        return Option.fromNullable(id === undefined ? undefined : jobs.get(id))
      }),
    // Nothing on a request's path asks for this (the create reads its group), so it is worked out when asked, newest
    // first.
    listActive: (owner) =>
      Effect.sync(() => {
        const ids = byOwner.get(ownerKey(owner)) ?? []
        const active: Array<ExportJob> = []
        for (let i = ids.length - 1; i >= 0; i--) {
          const job = jobs.get(ids[i]!)!
          if (isActive(job)) active.push(job)
        }
        return active
      }),
    listActiveCreatedBefore: (before, limit, after) =>
      Effect.sync(() => {
        const bound = firstExportJobIdAt(before.epochMillis)
        const found: Array<ExportJob> = []
        for (const group of activeByRequest.values()) {
          for (const job of group) if (job.jobId < bound && (after === undefined || job.jobId > after)) found.push(job)
        }
        return found.sort((a, b) => a.jobId < b.jobId ? -1 : 1).slice(0, Math.max(0, limit))
      }),
    get: (jobId) => Effect.sync(() => Option.fromNullable(jobs.get(jobId))),
    update: (next, expectedRevision) =>
      Effect.suspend(() => {
        const stored = jobs.get(next.jobId)
        if (stored === undefined || stored.revision !== expectedRevision) {
          return Effect.fail(new JobConflict({ jobId: next.jobId, expectedRevision }))
        }
        jobs.set(next.jobId, next)
        track(next, false)
        const until = jobRetainedUntil(next)
        if (until !== undefined) retainedUntil.set(next.jobId, until)
        return Effect.void
      }),
    listByOwner: (owner, page) =>
      Effect.sync(() => {
        const ids = byOwner.get(ownerKey(owner)) ?? []
        const found: Array<ExportJob> = []
        for (let i = ids.length - 1; i >= 0 && found.length <= page.limit; i--) {
          const id = ids[i]!
          if (page.after === undefined || id < page.after) found.push(jobs.get(id)!)
        }
        const onPage = found.slice(0, page.limit)
        return {
          jobs: onPage,
          continueAfter: found.length > page.limit ? onPage[onPage.length - 1]?.jobId : undefined
        }
      })
  })
})

export const layer = Layer.effect(JobStore, make)

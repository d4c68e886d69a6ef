// Jobs in memory, with the same conditional-write rule as the durable stores: an update lands only on the
// revision it was computed from. Indexed by owner so that each call costs what its answer costs, not the size of
// the whole store (the embedded server keeps every job of its lifetime here).
import { Effect, Layer, Option } from "effect"
import { JobStore } from "../../application/ports/JobStore.js"
import { JobConflict } from "../../domain/Errors.js"
import type { ExportJob, QueuedJob } from "../../domain/ExportJob.js"
import { IDEMPOTENCY_WINDOW_MILLIS } from "../../domain/ExportJob.js"
import type { ExportJobId, Owner } from "../../domain/Identifiers.js"

const ownerKey = (owner: Owner): string => `${owner.merchantId}\u0000${owner.userId}`

const isActive = (job: ExportJob): boolean => job._tag === "Queued" || job._tag === "Running"

/** Inserts `id` into ascending `ids`; ids from one process arrive in order, so this is nearly always a push. */
const insertSorted = (ids: Array<ExportJobId>, id: ExportJobId): void => {
  let at = ids.length
  while (at > 0 && ids[at - 1]! > id) at--
  ids.splice(at, 0, id)
}

export const makeMemoryJobStore = Effect.sync(() => {
  const jobs = new Map<ExportJobId, ExportJob>()
  /** Each owner's job ids, oldest first. */
  const byOwner = new Map<string, Array<ExportJobId>>()
  /**
   * Each owner's Queued and Running jobs, newest first. Replaced, never changed in place, so `listActive` hands
   * out the array itself: a request checks every export its owner has in progress, and under load that list is
   * long (the workers fall behind), so it must not be copied, looked up and sorted on every call.
   */
  const activeByOwner = new Map<string, ReadonlyArray<ExportJob>>()
  /** The newest job created with each (owner, idempotency key). */
  const byIdempotencyKey = new Map<string, ExportJobId>()

  /** Keeps the owner's active list up to date with `job`; `created` says it cannot be in the list yet. */
  const track = (job: ExportJob, created: boolean): void => {
    const owner = ownerKey(job.owner)
    const active = activeByOwner.get(owner) ?? []
    const at = created ? -1 : active.findIndex((other) => other.jobId === job.jobId)
    if (at >= 0) {
      activeByOwner.set(
        owner,
        isActive(job) ? active.map((other, i) => (i === at ? job : other)) : active.filter((_, i) => i !== at)
      )
    } else if (isActive(job)) {
      // Newest first; ids from one process arrive in order, so the new job nearly always goes in front.
      let before = 0
      while (before < active.length && active[before]!.jobId > job.jobId) before++
      activeByOwner.set(owner, [...active.slice(0, before), job, ...active.slice(before)])
    }
  }

  const keyTaken = (job: QueuedJob): boolean => {
    if (job.idempotencyKey === undefined) return false
    const previous = byIdempotencyKey.get(`${ownerKey(job.owner)}\u0000${job.idempotencyKey}`)
    const other = previous === undefined ? undefined : jobs.get(previous)
    return other !== undefined &&
      job.requestedAt.epochMillis - other.requestedAt.epochMillis < IDEMPOTENCY_WINDOW_MILLIS
  }

  return JobStore.of({
    create: (job) =>
      Effect.suspend(() => {
        if (jobs.has(job.jobId) || keyTaken(job)) {
          return Effect.fail(new JobConflict({ jobId: job.jobId, expectedRevision: -1 }))
        }
        jobs.set(job.jobId, job)
        const owner = ownerKey(job.owner)
        const ids = byOwner.get(owner) ?? []
        insertSorted(ids, job.jobId)
        byOwner.set(owner, ids)
        if (job.idempotencyKey !== undefined) byIdempotencyKey.set(`${owner}\u0000${job.idempotencyKey}`, job.jobId)
        track(job, true)
        return Effect.void
      }),
    findByIdempotencyKey: (owner, key) =>
      Effect.sync(() => {
        const id = byIdempotencyKey.get(`${ownerKey(owner)}\u0000${key}`)
        return Option.fromNullable(id === undefined ? undefined : jobs.get(id))
      }),
    listActive: (owner) => Effect.sync(() => activeByOwner.get(ownerKey(owner)) ?? []),
    get: (jobId) => Effect.sync(() => Option.fromNullable(jobs.get(jobId))),
    update: (next, expectedRevision) =>
      Effect.suspend(() => {
        const stored = jobs.get(next.jobId)
        if (stored === undefined || stored.revision !== expectedRevision) {
          return Effect.fail(new JobConflict({ jobId: next.jobId, expectedRevision }))
        }
        jobs.set(next.jobId, next)
        track(next, false)
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

export const JobStoreMemory = Layer.effect(JobStore, makeMemoryJobStore)

// Jobs in a map, with the same conditional-write rule as the durable stores: an update lands only on the
// revision it was computed from.
import { Effect, Layer, Option, Ref } from "effect"
import { JobStore } from "../../application/ports/JobStore.js"
import { JobConflict } from "../../domain/Errors.js"
import type { ExportJob, QueuedJob } from "../../domain/ExportJob.js"
import { IDEMPOTENCY_WINDOW_MILLIS } from "../../domain/ExportJob.js"
import type { ExportJobId, Owner } from "../../domain/Identifiers.js"

const newestFirst = (jobs: Array<ExportJob>): Array<ExportJob> => jobs.sort((a, b) => (a.jobId < b.jobId ? 1 : -1))

const keyTaken = (map: ReadonlyMap<ExportJobId, ExportJob>, job: QueuedJob): boolean => {
  for (const other of map.values()) {
    if (
      other.idempotencyKey === job.idempotencyKey && job.owner.isOwnerOf(other) &&
      job.requestedAt.epochMillis - other.requestedAt.epochMillis < IDEMPOTENCY_WINDOW_MILLIS
    ) return true
  }
  return false
}

export const makeMemoryJobStore = Effect.gen(function*() {
  const jobs = yield* Ref.make(new Map<ExportJobId, ExportJob>())
  return JobStore.of({
    create: (job) =>
      Ref.modify(jobs, (map) => {
        if (map.has(job.jobId) || (job.idempotencyKey !== undefined && keyTaken(map, job))) return [false, map] as const
        return [true, new Map(map).set(job.jobId, job)] as const
      }).pipe(
        Effect.filterOrFail((created) => created, () => new JobConflict({ jobId: job.jobId, expectedRevision: -1 })),
        Effect.asVoid
      ),
    findByIdempotencyKey: (owner, key) =>
      Effect.map(Ref.get(jobs), (map) =>
        Option.fromNullable(
          newestFirst(Array.from(map.values())).find((job) => owner.isOwnerOf(job) && job.idempotencyKey === key)
        )),
    listActive: (owner) =>
      Effect.map(
        Ref.get(jobs),
        (map) =>
          newestFirst(Array.from(map.values())).filter((job) =>
            owner.isOwnerOf(job) && (job._tag === "Queued" || job._tag === "Running")
          )
      ),
    get: (jobId) => Effect.map(Ref.get(jobs), (map) => Option.fromNullable(map.get(jobId))),
    update: (next, expectedRevision) =>
      Ref.modify(jobs, (map) => {
        const stored = map.get(next.jobId)
        if (stored === undefined || stored.revision !== expectedRevision) return [false, map] as const
        return [true, new Map(map).set(next.jobId, next)] as const
      }).pipe(
        Effect.filterOrFail((updated) => updated, () => new JobConflict({ jobId: next.jobId, expectedRevision })),
        Effect.asVoid
      ),
    listByOwner: (owner: Owner, page) =>
      Effect.map(Ref.get(jobs), (map) => {
        const mine = newestFirst(Array.from(map.values()))
          .filter((job) => owner.isOwnerOf(job) && (page.after === undefined || job.jobId < page.after))
        const jobsOnPage = mine.slice(0, page.limit)
        return {
          jobs: jobsOnPage,
          continueAfter: mine.length > page.limit ? jobsOnPage[jobsOnPage.length - 1]?.jobId : undefined
        }
      })
  })
})

export const JobStoreMemory = Layer.effect(JobStore, makeMemoryJobStore)

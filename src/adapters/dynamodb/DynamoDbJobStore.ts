// Export jobs in DynamoDB (the table layout is in DynamoDbTables.ts). Every write is conditional: a job is created
// only once, an idempotency key is claimed only once a day, and an update lands only on the revision it was
// computed from, so two workers racing on one job cannot both win. A key whose job the queue refused is taken over
// by the next job created with it.
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb"
import type { NativeAttributeValue, QueryCommand } from "@aws-sdk/lib-dynamodb"
import { Effect, Either, Layer, Option, Schema } from "effect"
import type { Duration } from "effect"
import type { JobPage } from "../../application/ports/JobStore.js"
import { holdsIdempotencyKey, inProgressAnswer, JobStore } from "../../application/ports/JobStore.js"
import { claimRetainedUntil, jobRetainedUntil } from "../../application/Retention.js"
import { ExportLimitReached, JobConflict, JobStoreUnavailable } from "../../domain/Errors.js"
import { ExportJob, IDEMPOTENCY_WINDOW_MILLIS } from "../../domain/ExportJob.js"
import type { QueuedJob } from "../../domain/ExportJob.js"
import type { ExportJobId, Owner } from "../../domain/Identifiers.js"
import { firstExportJobIdAt } from "../../domain/Identifiers.js"
import { ReportRequest } from "../../domain/Reports.js"
import type { ActiveExportLimits } from "../../domain/TenantLimits.js"
import { DynamoDb, DynamoDbError, queryPages } from "./DynamoDb.js"
import { ACTIVE_JOBS_BY_OWNER_INDEX, ACTIVE_JOBS_INDEX, ACTIVE_KEY, JOBS_BY_OWNER_INDEX } from "./DynamoDbTables.js"

/** Present on a job's item only while the job is in progress (the sparse index `activeJobs`). */
const ACTIVE_KEY_ATTRIBUTE = "activeKey"

type Item = Record<string, NativeAttributeValue>

/** `<merchantId>#<userId>`: merchant ids have no `#`, so the pair is unambiguous. */
export const ownerKeyOf = (owner: Owner): string => `${owner.merchantId}#${owner.userId}`

/** The key of the item claiming an idempotency key; JSON keeps user ids and keys that contain `#` apart. */
const claimKeyOf = (owner: Owner, key: string): string =>
  `idem#${JSON.stringify([owner.merchantId, owner.userId, key])}`

const encodeReport = Schema.encodeSync(ReportRequest)

/**
 * The key of the item naming the owner's export in progress of one request (the report, its parameters, the format):
 * two jobs are the same request (`sameRequest`) exactly when their encoded reports are equal.
 */
const inProgressKeyOf = (job: Pick<ExportJob, "owner" | "report" | "format">): string =>
  `active#${JSON.stringify([job.owner.merchantId, job.owner.userId, job.format, encodeReport(job.report)])}`

/** The keys of the items listing the exports in progress of an owner and of their merchant (ADR 45). */
const slotKeysOf = (owner: Owner) => ({
  user: `slots#user#${JSON.stringify([owner.merchantId, owner.userId])}`,
  merchant: `slots#merchant#${JSON.stringify([owner.merchantId])}`
})

const isActiveJob = (job: ExportJob): boolean => job._tag === "Queued" || job._tag === "Running"

const epochSeconds = (millis: number): number => Math.floor(millis / 1000)

/** The TTL of a job's item in epoch seconds (Retention.ts), or undefined while the job is still active. */
export const jobExpiresAt = (job: ExportJob): number | undefined => {
  const until = jobRetainedUntil(job)
  return until === undefined ? undefined : epochSeconds(until)
}

const JobJson = Schema.parseJson(ExportJob)
const encodeJob = Schema.encode(JobJson)
const decodeJob = Schema.decodeUnknown(JobJson)

const itemOf = (job: ExportJob) =>
  Effect.map(
    // A typed job that does not encode is a bug, not an outage.
    Effect.orDie(encodeJob(job)),
    (json): Item => {
      const active = job._tag === "Queued" || job._tag === "Running"
      const expiresAt = jobExpiresAt(job)
      return {
        jobId: job.jobId,
        job: json,
        ownerKey: ownerKeyOf(job.owner),
        ...(active ? { activeOwnerKey: ownerKeyOf(job.owner), activeKey: ACTIVE_KEY } : {}),
        jobStatus: job._tag,
        revision: job.revision,
        ...(expiresAt === undefined ? {} : { expiresAt })
      }
    }
  )

const jobOf = (item: Item) =>
  decodeJob(item["job"]).pipe(
    Effect.mapError((error) =>
      new JobStoreUnavailable({ detail: `undecodable job item ${String(item["jobId"])}: ${error.message}` })
    )
  )

const unavailable = (error: DynamoDbError) =>
  new JobStoreUnavailable({ detail: `DynamoDB ${error.operation}: ${error.name}: ${error.detail}` })

/** Recovers from a failed condition only; every other failure goes on. */
const onConditionFailed = <A, E, R>(recover: (error: DynamoDbError) => Effect.Effect<A, E, R>) =>
<B, E2, R2>(
  self: Effect.Effect<B, E2 | DynamoDbError, R2>
): Effect.Effect<A | B, E | E2 | DynamoDbError, R | R2> =>
  Effect.catchIf(
    self,
    (error): error is DynamoDbError => error instanceof DynamoDbError && error.conditionFailed,
    recover
  )

export const make = Effect.gen(function*() {
  const db = yield* DynamoDb
  const TableName = db.tables.jobs

  const getItem = (jobId: string) =>
    db.call(
      "GetItem",
      (documents, options) =>
        documents.send(new GetCommand({ TableName, Key: { jobId }, ConsistentRead: true }), options)
    ).pipe(
      Effect.map((output) => Option.fromNullable(output.Item))
    )

  const getJob = (jobId: string) =>
    Effect.flatMap(
      getItem(jobId),
      Option.match({ onNone: () => Effect.succeedNone, onSome: (item) => Effect.asSome(jobOf(item)) })
    )

  const queryAll = (input: Omit<ConstructorParameters<typeof QueryCommand>[0], "TableName">, wanted: number) =>
    Effect.flatMap(queryPages(db, { ...input, TableName }, wanted), (items) => Effect.forEach(items, jobOf))

  const putClaim = (job: QueuedJob, key: string, condition: string, values: Item) =>
    db.call("PutItem", (documents, options) =>
      documents.send(
        new PutCommand({
          TableName,
          Item: {
            jobId: claimKeyOf(job.owner, key),
            claimedBy: job.jobId,
            requestedAtMillis: job.requestedAt.epochMillis,
            expiresAt: epochSeconds(claimRetainedUntil(job.requestedAt))
          },
          ConditionExpression: condition,
          ExpressionAttributeValues: values
        }),
        options
      ))

  /**
   * Claims `key` for `job`: free, or last claimed by a job at least a window older. A claim whose job does not exist
   * was left by a create that failed half-way (its job was rolled back), and a claim whose job gave the key up
   * (`holdsIdempotencyKey`) is free: either is taken over, conditionally on still naming the job read, which cannot
   * change its mind (a failed job is final), so of creates racing for it exactly one wins.
   */
  const claim = (job: QueuedJob, key: string) =>
    putClaim(job, key, "attribute_not_exists(jobId) OR requestedAtMillis <= :cutoff", {
      ":cutoff": job.requestedAt.epochMillis - IDEMPOTENCY_WINDOW_MILLIS
    }).pipe(
      onConditionFailed((conflict) =>
        Effect.gen(function*() {
          const current = yield* getItem(claimKeyOf(job.owner, key))
          const holder = Option.flatMapNullable(current, (item) => item["claimedBy"] as string | undefined)
          if (Option.isNone(holder)) return yield* conflict
          const holding = yield* getJob(holder.value)
          if (Option.exists(holding, holdsIdempotencyKey)) return yield* conflict
          yield* putClaim(job, key, "claimedBy = :released", { ":released": holder.value })
        })
      )
    )

  /** Undoes a create whose key could not be claimed; no worker can have touched the job, as it was never queued. */
  const rollBack = (job: QueuedJob) =>
    db.call("DeleteItem", (documents, options) =>
      documents.send(
        new DeleteCommand({
          TableName,
          Key: { jobId: job.jobId },
          ConditionExpression: "revision = :created",
          ExpressionAttributeValues: { ":created": job.revision }
        }),
        options
      )).pipe(onConditionFailed(() => Effect.void))

  /** One conditional change of a slot item's set of job ids. */
  const updateSlots = (key: string, update: string, condition: string, values: Item) =>
    db.call("UpdateItem", (documents, options) =>
      documents.send(
        new UpdateCommand({
          TableName,
          Key: { jobId: key },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeValues: values
        }),
        options
      ))

  /**
   * Adds `jobId` to the slot item `key`'s set, only while the set holds fewer than `limit` ids: DynamoDB applies the
   * condition and the addition to one item at once, so of creates racing for the last slot exactly one gets it.
   */
  const addToSlots = (key: string, jobId: ExportJobId, limit: number) =>
    updateSlots(key, "ADD jobIds :job", "attribute_not_exists(jobIds) OR size(jobIds) < :limit", {
      ":job": new Set([jobId]),
      ":limit": limit
    })

  /**
   * Takes ids out of a slot item's set; an id it no longer holds is no change, so a release may be repeated. The
   * condition keeps it from creating the item of a tenant that held no slot (a job created without limits).
   */
  const removeFromSlots = (key: string, jobIds: ReadonlyArray<string>) =>
    updateSlots(key, "DELETE jobIds :jobs", "attribute_exists(jobIds)", { ":jobs": new Set(jobIds) }).pipe(
      onConditionFailed(() => Effect.void)
    )

  const releaseSlots = (job: ExportJob) => {
    const keys = slotKeysOf(job.owner)
    return Effect.all([removeFromSlots(keys.user, [job.jobId]), removeFromSlots(keys.merchant, [job.jobId])], {
      concurrency: 2,
      discard: true
    })
  }

  /**
   * Frees the slots of a full item whose jobs have finished or are gone: a process that died between writing a
   * finished job and releasing its slots left them there. A slot's job is written before the slot, so a missing job
   * is one rolled back or expired. Answers whether any slot was freed.
   */
  const freeStaleSlots = (key: string) =>
    Effect.gen(function*() {
      const item = yield* getItem(key)
      const held = Option.match(item, {
        onNone: () => [],
        onSome: (found) => Array.from((found["jobIds"] as Set<string> | undefined) ?? [])
      })
      const jobs = yield* Effect.forEach(held, (jobId) => getJob(jobId), { concurrency: 8 })
      const stale = held.filter((_, at) => !Option.exists(jobs[at]!, isActiveJob))
      if (stale.length === 0) return false
      yield* Effect.logWarning("freeing export slots whose jobs have finished", { jobs: stale.length })
      yield* removeFromSlots(key, stale)
      return true
    })

  /** One slot in `key`'s item for `job`, or ExportLimitReached once no stale slot can be freed. */
  const takeSlot = (key: string, job: QueuedJob, limit: number, scope: ExportLimitReached["scope"]) =>
    addToSlots(key, job.jobId, limit).pipe(
      onConditionFailed(() =>
        Effect.flatMap(freeStaleSlots(key), (freed) =>
          freed
            ? addToSlots(key, job.jobId, limit).pipe(
              onConditionFailed(() => Effect.fail(new ExportLimitReached({ scope, limit })))
            )
            : Effect.fail(new ExportLimitReached({ scope, limit })))
      )
    )

  /** The user's slot, then the merchant's; a refusal of the second gives the first back. */
  const takeSlots = (job: QueuedJob, limits: ActiveExportLimits) => {
    const keys = slotKeysOf(job.owner)
    return Effect.zipRight(
      takeSlot(keys.user, job, limits.exportsPerUser, "user"),
      takeSlot(keys.merchant, job, limits.exportsPerMerchant, "merchant").pipe(
        Effect.tapError(() => Effect.ignore(removeFromSlots(keys.user, [job.jobId])))
      )
    )
  }

  /** The job named by the claim item `key`, if any, and its id. */
  const claimHolder = (key: string) =>
    Effect.gen(function*() {
      const holder = Option.flatMapNullable(yield* getItem(key), (item) => item["claimedBy"] as string | undefined)
      if (Option.isNone(holder)) return Option.none()
      return Option.some({ jobId: holder.value, job: yield* getJob(holder.value) })
    })

  /** The job in progress that the same export's claim names, when it answers `job` (`inProgressAnswer`). */
  const inProgressOf = (job: QueuedJob, deadline: Duration.Duration) =>
    Effect.map(
      claimHolder(inProgressKeyOf(job)),
      Option.flatMap((holder) => inProgressAnswer(Option.getOrUndefined(holder.job), job, deadline))
    )

  const putInProgress = (job: QueuedJob, condition: string, values?: Item) =>
    db.call("PutItem", (documents, options) =>
      documents.send(
        new PutCommand({
          TableName,
          Item: {
            jobId: inProgressKeyOf(job),
            claimedBy: job.jobId,
            expiresAt: epochSeconds(claimRetainedUntil(job.requestedAt))
          },
          ConditionExpression: condition,
          ...(values === undefined ? {} : { ExpressionAttributeValues: values })
        }),
        options
      ))

  /**
   * Claims the owner's same export for `job`, or answers with the job in progress that holds it. A claim whose job
   * finished, is gone (rolled back or expired) or is overdue is taken over, conditionally on still naming that job,
   * so of creates racing for it exactly one wins; the others answer with the winner, whose every other write came
   * before its claim.
   */
  const claimInProgress = (job: QueuedJob, deadline: Duration.Duration) =>
    putInProgress(job, "attribute_not_exists(jobId)").pipe(
      Effect.as(Option.none<ExportJob>()),
      onConditionFailed((taken) =>
        Effect.gen(function*() {
          const holder = yield* claimHolder(inProgressKeyOf(job))
          if (Option.isNone(holder)) return yield* taken
          const answer = inProgressAnswer(Option.getOrUndefined(holder.value.job), job, deadline)
          if (Option.isSome(answer)) return answer
          return yield* putInProgress(job, "claimedBy = :released", { ":released": holder.value.jobId }).pipe(
            Effect.as(Option.none<ExportJob>()),
            onConditionFailed((lost) =>
              Effect.flatMap(
                inProgressOf(job, deadline),
                (winner) => Option.isSome(winner) ? Effect.succeed(winner) : Effect.fail(lost)
              )
            )
          )
        })
      )
    )

  /** Deletes the claim item `key` while it names `job`; a claim naming another job is left alone. */
  const release = (key: string, job: QueuedJob) =>
    db.call("DeleteItem", (documents, options) =>
      documents.send(
        new DeleteCommand({
          TableName,
          Key: { jobId: key },
          ConditionExpression: "claimedBy = :job",
          ExpressionAttributeValues: { ":job": job.jobId }
        }),
        options
      )).pipe(onConditionFailed(() => Effect.void))

  const releaseInProgress = (job: QueuedJob) => release(inProgressKeyOf(job), job)

  /** Takes back the job a create wrote and the slots it took, when the create is answered otherwise. */
  const undo = (job: QueuedJob, heldSlots: boolean) =>
    Effect.ignore(Effect.zipRight(rollBack(job), heldSlots ? releaseSlots(job) : Effect.void))

  const conflict = (jobId: ExportJobId, expectedRevision: number) => () =>
    Effect.fail(new JobConflict({ jobId, expectedRevision }))

  const listActive = (owner: Owner) =>
    queryAll({
      IndexName: ACTIVE_JOBS_BY_OWNER_INDEX,
      KeyConditionExpression: "activeOwnerKey = :owner",
      ExpressionAttributeValues: { ":owner": ownerKeyOf(owner) },
      ScanIndexForward: false
    }, Infinity).pipe(Effect.catchTag("DynamoDbError", (error) => Effect.fail(unavailable(error))))

  return JobStore.of({
    listActiveCreatedBefore: (before, limit, after) => {
      const bound = firstExportJobIdAt(before.epochMillis)
      // An empty range, which BETWEEN would refuse.
      if (limit < 1 || (after !== undefined && after >= bound)) return Effect.succeed([])
      // A key condition takes one range: BETWEEN is inclusive, so the page's ends are dropped after the query.
      return queryAll({
        IndexName: ACTIVE_JOBS_INDEX,
        KeyConditionExpression: after === undefined
          ? "activeKey = :active AND jobId < :bound"
          : "activeKey = :active AND jobId BETWEEN :after AND :bound",
        ExpressionAttributeValues: {
          ":active": ACTIVE_KEY,
          ":bound": bound,
          ...(after === undefined ? {} : { ":after": after })
        },
        ScanIndexForward: true
      }, after === undefined ? limit : limit + 2).pipe(
        Effect.map((jobs) => jobs.filter((job) => job.jobId !== after && job.jobId !== bound).slice(0, limit)),
        Effect.catchTag("DynamoDbError", (error) => Effect.fail(unavailable(error)))
      )
    },
    // The job is written before its slots, its export in progress and its key are claimed, so a slot or a claim
    // always names a job that exists (once a concurrent create that lost the key finds the winner's job at once); a
    // lost slot or claim deletes the job it wrote and gives back what it took. The export in progress is claimed before
    // the key: identical requests racing with one key (a client's retries) then all answer with the job in progress,
    // rather than one of them with a job that is being taken back.
    create: (job, checks) =>
      Effect.gen(function*() {
        const item = yield* itemOf(job)
        const limits = checks?.limits
        const deadline = checks?.inProgressDeadline
        yield* db.call("PutItem", (documents, options) =>
          documents.send(
            new PutCommand({ TableName, Item: item, ConditionExpression: "attribute_not_exists(jobId)" }),
            options
          )).pipe(onConditionFailed(conflict(job.jobId, -1)))
        if (limits !== undefined) {
          const taken = yield* Effect.either(
            takeSlots(job, limits).pipe(Effect.tapError(() => Effect.ignore(rollBack(job))))
          )
          if (Either.isLeft(taken)) {
            // The same export in progress answers a repeat at the cap, as it does below it.
            if (taken.left._tag === "ExportLimitReached" && deadline !== undefined) {
              const inProgress = yield* inProgressOf(job, deadline)
              if (Option.isSome(inProgress)) return inProgress
            }
            return yield* taken.left
          }
        }
        if (deadline !== undefined) {
          const inProgress = yield* claimInProgress(job, deadline).pipe(
            Effect.tapError(() => undo(job, limits !== undefined))
          )
          if (Option.isSome(inProgress)) {
            yield* undo(job, limits !== undefined)
            return inProgress
          }
        }
        const key = job.idempotencyKey
        if (key !== undefined) {
          yield* claim(job, key).pipe(
            Effect.tapError(() =>
              Effect.zipRight(
                undo(job, limits !== undefined),
                deadline === undefined ? Effect.void : Effect.ignore(releaseInProgress(job))
              )
            ),
            onConditionFailed(conflict(job.jobId, -1))
          )
        }
        return Option.none()
      }).pipe(
        Effect.catchTag("DynamoDbError", (error) => Effect.fail(unavailable(error))),
        Effect.withSpan("JobStore.create")
      ),

    findByIdempotencyKey: (owner, key) =>
      getItem(claimKeyOf(owner, key)).pipe(
        Effect.flatMap((claimItem) => {
          const holder = Option.flatMapNullable(claimItem, (item) => item["claimedBy"] as string | undefined)
          return Option.isNone(holder) ? Effect.succeedNone : getJob(holder.value)
        }),
        // The claim is the owner's own (its key holds the owner); the check guards against a corrupted item.
        Effect.map(Option.filter((job) => owner.isOwnerOf(job))),
        Effect.catchTag("DynamoDbError", (error) => Effect.fail(unavailable(error)))
      ),

    listActive,

    get: (jobId) => getJob(jobId).pipe(Effect.catchTag("DynamoDbError", (error) => Effect.fail(unavailable(error)))),

    update: (next, expectedRevision) =>
      Effect.gen(function*() {
        const item = yield* itemOf(next)
        const written = yield* db.call("PutItem", (documents, options) =>
          documents.send(
            new PutCommand({
              TableName,
              Item: item,
              // False for an item that does not exist: an update never creates a job.
              ConditionExpression: "revision = :expected",
              ExpressionAttributeValues: { ":expected": expectedRevision },
              ReturnValues: "ALL_OLD"
            }),
            options
          ))
        // The write that finishes a job (whichever path: worker, cancel, sweeper, last receive, queue refusal) gives
        // its slots back; a process that dies before this leaves them to `freeStaleSlots`.
        if (!isActiveJob(next) && written.Attributes?.[ACTIVE_KEY_ATTRIBUTE] !== undefined) yield* releaseSlots(next)
      }).pipe(
        onConditionFailed(conflict(next.jobId, expectedRevision)),
        Effect.catchTag("DynamoDbError", (error) => Effect.fail(unavailable(error))),
        Effect.withSpan("JobStore.update")
      ),

    listByOwner: (owner, page) =>
      Effect.gen(function*() {
        if (page.limit < 1) return { jobs: [], continueAfter: undefined }
        // One more than the page, to know whether another page follows.
        const found = yield* queryAll({
          IndexName: JOBS_BY_OWNER_INDEX,
          KeyConditionExpression: page.after === undefined
            ? "ownerKey = :owner"
            : "ownerKey = :owner AND jobId < :after",
          ExpressionAttributeValues: {
            ":owner": ownerKeyOf(owner),
            ...(page.after === undefined ? {} : { ":after": page.after })
          },
          ScanIndexForward: false
        }, page.limit + 1)
        const jobs = found.slice(0, page.limit)
        return {
          jobs,
          continueAfter: found.length > page.limit ? jobs[jobs.length - 1]?.jobId : undefined
        } satisfies JobPage
      }).pipe(Effect.catchTag("DynamoDbError", (error) => Effect.fail(unavailable(error))))
  })
})

/** The JobStore on the jobs table of the DynamoDb client's settings. */
export const layer = Layer.effect(JobStore, make)

import { assert, describe, expect, it } from "@effect/vitest"
import { Arbitrary, Data, DateTime, Either, Equal, FastCheck, Redacted, Schema } from "effect"
import {
  ChannelClaim,
  Completed,
  ExportJob,
  ExportResult,
  Failed,
  isFinished,
  isLive,
  JobEvent,
  JobFailure,
  Lease,
  LeaseReleased,
  LeaseRenewed,
  newJob,
  NotificationClaimed,
  NotificationLedger,
  NotificationSettled,
  Progress,
  ProgressReported,
  RunningJob,
  sameRequest,
  sameRequestAs,
  Started,
  transition
} from "../../src/domain/ExportJob.js"
import type { ChannelState, ExportJob as Job, JobStatus } from "../../src/domain/ExportJob.js"
import { EmailAddress, ExportJobId, makeExportJobId, MerchantId, Owner, UserId } from "../../src/domain/Identifiers.js"
import { ReportRequest } from "../../src/domain/Reports.js"

const RUNS = { fastCheck: { numRuns: 200 } }

/** The only edges the state machine may take. */
const LEGAL_EDGES: ReadonlySet<string> = new Set([
  "Queued->Running",
  "Queued->Failed",
  "Queued->Cancelled",
  "Running->Running",
  "Running->Succeeded",
  "Running->Failed",
  "Running->Cancelled",
  "Succeeded->Succeeded",
  "Failed->Failed"
])

const isValidJob = Schema.is(ExportJob)

const freshJob = FastCheck.record({
  jobId: Arbitrary.make(ExportJobId),
  owner: Arbitrary.make(Owner),
  email: Arbitrary.make(EmailAddress),
  report: Arbitrary.make(ReportRequest),
  requestedAt: Arbitrary.make(Schema.DateTimeUtcFromSelf)
}).map((fields) => newJob({ ...fields, email: Redacted.make(fields.email), format: "csv" }))

// Events drawn from two holders and a few seconds of time, so that holders match and leases and claims expire
// often; mixed with events of any shape.
const T0 = Date.parse("2024-05-01T10:00:00Z")
const instant = FastCheck.integer({ min: 0, max: 8 }).map((s) => DateTime.unsafeMake(T0 + s * 1_000))
const holder = FastCheck.constantFrom("worker-a", "worker-b")
const lease = FastCheck.record({ holder, expiresAt: instant }).map((fields) => new Lease(fields))
const claim = FastCheck.record({ holder, expiresAt: instant }).map((fields) => new ChannelClaim(fields))
const channel = FastCheck.constantFrom("inApp" as const, "email" as const)
const someResult = new ExportResult({
  objectKey: "exports/m-1/01900000-0000-7000-8000-000000000000.csv" as ExportResult["objectKey"],
  rowCount: 3,
  byteSize: 120,
  sha256: "a".repeat(64),
  linkExpiresAt: DateTime.unsafeMake(T0 + 86_400_000)
})
const startedEvent = FastCheck.record({ at: instant, lease }).map((fields) => Started.make(fields))
const leaseEvent = FastCheck.oneof(
  lease.map((l) => LeaseRenewed.make({ lease: l })),
  FastCheck.record({ at: instant, holder }).map((fields) => LeaseReleased.make(fields))
)
const notificationEvent = FastCheck.oneof(
  FastCheck.record({ channel, at: instant, claim }).map((fields) => NotificationClaimed.make(fields)),
  FastCheck.record({ channel, holder, outcome: FastCheck.constantFrom("sent" as const, "failed" as const) }).map((
    fields
  ) => NotificationSettled.make(fields))
)
// Counts from a small range, so that a report below the last one (a regression) is common.
const progress = FastCheck.record({
  rows: FastCheck.integer({ min: 0, max: 6 }),
  bytes: FastCheck.integer({ min: 0, max: 600 }),
  totalRows: FastCheck.option(FastCheck.integer({ min: 0, max: 6 }), { nil: undefined }),
  percent: FastCheck.option(FastCheck.integer({ min: 0, max: 100 }), { nil: undefined })
}).map(({ percent, totalRows, ...counts }) =>
  new Progress({
    ...counts,
    ...(totalRows === undefined ? {} : { totalRows }),
    ...(percent === undefined ? {} : { percent })
  })
)
const progressEvent = FastCheck.record({ holder, progress }).map((fields) => ProgressReported.make(fields))
const event: FastCheck.Arbitrary<JobEvent> = FastCheck.oneof(
  Arbitrary.make(JobEvent),
  startedEvent,
  progressEvent,
  progressEvent,
  leaseEvent,
  notificationEvent,
  instant.map((at) => Completed.make({ at, result: someResult })),
  instant.map((at) =>
    Failed.make({ at, failure: new JobFailure({ reason: "QueryFailed", userMessage: "x", retryable: true }) })
  )
)

/** Folds the events over the job, keeping every state visited; rejected events leave the job as it was. */
const walk = (job: Job, events: ReadonlyArray<JobEvent>) => {
  const states: Array<{ job: Job; accepted: boolean }> = [{ job, accepted: true }]
  let current = job
  for (const event of events) {
    const next = transition(current, event)
    if (Either.isRight(next)) current = next.right
    states.push({ job: current, accepted: Either.isRight(next) })
  }
  return states
}

const isClaim = (state: ChannelState): state is ChannelClaim => typeof state === "object"

const channelMove = (was: ChannelState, now: ChannelState): boolean =>
  Equal.equals(was, now) || (was === "pending" && isClaim(now)) ||
  (isClaim(was) && (isClaim(now) || now === "sent" || now === "failed"))

const outcomeOf = (job: Job) =>
  job._tag === "Succeeded"
    ? { result: job.result, finishedAt: job.finishedAt }
    : job._tag === "Failed"
    ? { failure: job.failure, finishedAt: job.finishedAt }
    : job._tag === "Cancelled"
    ? { finishedAt: job.finishedAt }
    : undefined

describe("ExportJob.transition", () => {
  it.prop(
    "no sequence of events reaches an illegal state",
    [freshJob, FastCheck.array(event, { maxLength: 12 })],
    ([job, events]) => {
      const states = walk(job, events)
      for (let i = 1; i < states.length; i++) {
        const before = states[i - 1]!.job
        const { accepted, job: after } = states[i]!
        expect(isValidJob(after)).toBe(true)
        if (!accepted) {
          expect(after).toBe(before)
          continue
        }
        expect(LEGAL_EDGES.has(`${before._tag}->${after._tag}`)).toBe(true)
        expect(after.revision).toBe(before.revision + 1)
        expect(after.attempts).toBeGreaterThanOrEqual(before.attempts)
        expect(after.jobId).toBe(before.jobId)
        expect(after.owner).toStrictEqual(before.owner)
        if (after._tag === "Running" || after._tag === "Succeeded") expect(after.attempts).toBeGreaterThanOrEqual(1)
        if (after._tag === "Succeeded" || after._tag === "Failed") {
          for (const channel of ["inApp", "email"] as const) {
            const entered =
              before._tag === "Queued" && after._tag === "Failed" && after.failure.reason === "QueueUnavailable"
                ? "skipped"
                : "pending"
            const was = before._tag === after._tag ? before.notifications[channel] : entered
            const now = after.notifications[channel]
            // A delivery is settled once: pending may be claimed, a claim taken again or settled sent or failed;
            // nothing else ever moves.
            expect(channelMove(was, now)).toBe(true)
          }
        }
      }
    },
    RUNS
  )

  it.prop(
    "a finished job keeps its status and outcome whatever happens next",
    [freshJob, FastCheck.array(event, { maxLength: 12 })],
    ([job, events]) => {
      const states = walk(job, events).map((state) => state.job)
      const firstFinished = states.findIndex(isFinished)
      if (firstFinished === -1) return
      const finished = states[firstFinished]!
      for (const later of states.slice(firstFinished)) {
        expect(later._tag).toBe(finished._tag)
        expect(outcomeOf(later)).toStrictEqual(outcomeOf(finished))
      }
    },
    RUNS
  )

  it.prop(
    "a rejected event names the job, its state and the event",
    [Arbitrary.make(ExportJob), Arbitrary.make(JobEvent)],
    ([job, event]) => {
      const next = transition(job, event)
      if (Either.isLeft(next)) {
        expect(next.left._tag).toBe("InvalidTransition")
        expect(next.left.jobId).toBe(job.jobId)
        expect(next.left.from).toBe(job._tag)
        expect(next.left.event).toBe(event._tag)
      }
    },
    RUNS
  )

  const at = DateTime.unsafeMake("2024-05-01T10:00:00Z")
  const result = new ExportResult({
    objectKey: "exports/m-1/01900000-0000-7000-8000-000000000000.csv" as ExportResult["objectKey"],
    rowCount: 3,
    byteSize: 120,
    sha256: "a".repeat(64),
    linkExpiresAt: DateTime.unsafeMake("2024-05-02T10:00:00Z")
  })
  const queued = newJob({
    jobId: makeExportJobId(Date.parse("2024-05-01T09:00:00Z"), new Uint8Array(10)),
    owner: new Owner({ userId: UserId.make("u-1"), merchantId: MerchantId.make("m-1") }),
    email: Redacted.make(EmailAddress.make("u1@example.com")),
    report: {
      _tag: "orders",
      params: Schema.decodeSync(ReportRequest.members[1].fields.params)({
        dateFrom: "2024-01-01",
        dateTo: "2024-01-31"
      })
    },
    format: "csv",
    requestedAt: at
  })
  const step = (job: Job, event: JobEvent): Job => Either.getOrThrow(transition(job, event))
  const started = Started.make({
    at,
    lease: new Lease({ holder: "worker-a", expiresAt: DateTime.add(at, { seconds: 60 }) })
  })
  const statusAfter = (job: Job, event: JobEvent): JobStatus | "rejected" =>
    Either.match(transition(job, event), { onLeft: () => "rejected" as const, onRight: (next) => next._tag })

  it("takes the happy path Queued -> Running -> Succeeded and owes both notifications", () => {
    const running = step(queued, started)
    expect(running._tag).toBe("Running")
    expect(running.attempts).toBe(1)
    const succeeded = step(running, Completed.make({ at, result }))
    expect(succeeded._tag === "Succeeded" && succeeded.notifications).toMatchObject({
      inApp: "pending",
      email: "pending"
    })
  })

  it("counts a second start of a running job, once its lease has run out, as another attempt (a worker died)", () => {
    const later = DateTime.add(at, { seconds: 60 })
    const takeOver = Started.make({
      at: later,
      lease: new Lease({ holder: "worker-b", expiresAt: DateTime.add(later, { seconds: 60 }) })
    })
    const again = step(step(queued, started), takeOver)
    expect(again._tag === "Running" && [again.attempts, again.lease?.holder]).toStrictEqual([2, "worker-b"])
    expect(statusAfter(step(queued, started), { ...takeOver, at: DateTime.add(at, { seconds: 59 }) })).toBe("rejected")
  })

  it("refuses to complete a job no worker started", () => {
    expect(statusAfter(queued, Completed.make({ at, result }))).toBe("rejected")
  })

  it("does not notify a user whose request was refused because the queue was down", () => {
    const failed = step(queued, {
      _tag: "Failed",
      at,
      failure: new JobFailure({ reason: "QueueUnavailable", userMessage: "busy", retryable: true })
    })
    expect(failed._tag === "Failed" && failed.notifications).toMatchObject({ inApp: "skipped", email: "skipped" })
  })

  it("settles each notification once, by the delivery that claimed it", () => {
    const succeeded = step(step(queued, started), Completed.make({ at, result }))
    const claimOf = (holder: string) => new ChannelClaim({ holder, expiresAt: DateTime.add(at, { minutes: 6 }) })
    const settled = (channel: "email" | "inApp", holder: string) =>
      NotificationSettled.make({ channel, holder, outcome: "sent" })
    expect(statusAfter(succeeded, settled("email", "worker-a"))).toBe("rejected")
    const claimed = step(succeeded, NotificationClaimed.make({ channel: "email", at, claim: claimOf("worker-a") }))
    expect(statusAfter(claimed, NotificationClaimed.make({ channel: "email", at, claim: claimOf("worker-b") })))
      .toBe("rejected")
    expect(statusAfter(claimed, settled("email", "worker-b"))).toBe("rejected")
    const sent = step(claimed, settled("email", "worker-a"))
    expect(statusAfter(sent, settled("email", "worker-a"))).toBe("rejected")
    expect(statusAfter(sent, NotificationClaimed.make({ channel: "email", at, claim: claimOf("worker-b") })))
      .toBe("rejected")
  })

  it("can cancel a queued or running job, never a finished one", () => {
    const running = step(queued, started)
    expect(statusAfter(queued, { _tag: "Cancelled", at })).toBe("Cancelled")
    expect(statusAfter(running, { _tag: "Cancelled", at })).toBe("Cancelled")
    expect(statusAfter(step(running, Completed.make({ at, result })), { _tag: "Cancelled", at })).toBe("rejected")
  })
})

/** Folds only the accepted events. */
const fold = (job: Job, events: ReadonlyArray<JobEvent>): Job =>
  events.reduce((current, next) => Either.getOrElse(transition(current, next), () => current), job)

/** A running job with a lease from either holder, or none at all (a record written before leases). */
const runningJob = FastCheck.tuple(
  freshJob,
  startedEvent,
  FastCheck.array(leaseEvent, { maxLength: 3 }),
  FastCheck.boolean()
)
  .map(([job, start, leaseEvents, withoutLease]) => {
    const running = fold(Either.getOrThrow(transition(job, start)), leaseEvents) as RunningJob
    if (!withoutLease) return running
    const { lease: _, ...rest } = running
    return new RunningJob(rest)
  })

/** A finished job whose channels went through some claims and settlements. */
const finishedJob = FastCheck.tuple(
  runningJob,
  FastCheck.boolean(),
  instant,
  FastCheck.array(notificationEvent, { maxLength: 6 })
).map(([running, succeeds, at, events]) =>
  fold(
    Either.getOrThrow(transition(
      running,
      succeeds
        ? Completed.make({ at, result: someResult })
        : Failed.make({ at, failure: new JobFailure({ reason: "QueryFailed", userMessage: "x", retryable: true }) })
    )),
    events
  )
)

describe("progress", () => {
  it.prop(
    "is monotonic within an attempt, reported by the lease's holder only, never past 100 percent, and never past the " +
      "final row count",
    [freshJob, FastCheck.array(FastCheck.oneof(event, progressEvent), { maxLength: 16 })],
    ([job, events]) => {
      const states = walk(job, events)
      for (let i = 1; i < states.length; i++) {
        const before = states[i - 1]!.job
        const { accepted, job: after } = states[i]!
        const happened = events[i - 1]!
        if (accepted && happened._tag === "ProgressReported") {
          expect(before._tag === "Running" && before.lease?.holder === happened.holder).toBe(true)
        }
        if (after._tag === "Running" && after.progress?.percent !== undefined) {
          expect(after.progress.percent).toBeLessThanOrEqual(100)
        }
        if (before._tag !== "Running" || before.progress === undefined) continue
        if (after._tag === "Running" && after.attempts === before.attempts) {
          const was = before.progress
          const now = after.progress!
          expect(now.rows).toBeGreaterThanOrEqual(was.rows)
          expect(now.bytes).toBeGreaterThanOrEqual(was.bytes)
          expect(now.percent ?? 0).toBeGreaterThanOrEqual(was.percent ?? 0)
        }
        if (after._tag === "Succeeded") expect(after.result.rowCount).toBeGreaterThanOrEqual(before.progress.rows)
      }
    },
    RUNS
  )

  it.prop("starts afresh with each attempt", [freshJob], ([queued]) => {
    const at = DateTime.unsafeMake(T0)
    const running = Either.getOrThrow(
      transition(queued, Started.make({ at, lease: new Lease({ holder: "worker-a", expiresAt: at }) }))
    )
    const reported = Either.getOrThrow(
      transition(running, ProgressReported.make({ holder: "worker-a", progress: new Progress({ rows: 5, bytes: 50 }) }))
    )
    expect(reported._tag === "Running" && reported.progress?.rows).toBe(5)
    const later = DateTime.unsafeMake(T0 + 1_000)
    const again = Either.getOrThrow(
      transition(reported, Started.make({ at: later, lease: new Lease({ holder: "worker-b", expiresAt: later }) }))
    )
    expect(again._tag === "Running" && again.progress).toBe(undefined)
  }, { fastCheck: { numRuns: 10 } })
})

describe("leases", () => {
  it.prop(
    "a running job is taken over only once its lease has expired at the event's time, and then under the new lease",
    [runningJob, startedEvent],
    ([job, start]) => {
      const next = transition(job, start)
      const expired = job.lease === undefined || DateTime.lessThanOrEqualTo(job.lease.expiresAt, start.at)
      expect(Either.isRight(next)).toBe(expired)
      expect(isLive(job.lease, start.at)).toBe(!expired)
      if (Either.isRight(next)) {
        assert(next.right._tag === "Running")
        expect(next.right.lease).toStrictEqual(start.lease)
        expect(next.right.attempts).toBe(job.attempts + 1)
      }
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "only the lease's holder renews or releases it, and neither starts another attempt",
    [runningJob, leaseEvent],
    ([job, leaseEvent]) => {
      const next = transition(job, leaseEvent)
      const by = leaseEvent._tag === "LeaseRenewed" ? leaseEvent.lease.holder : leaseEvent.holder
      expect(Either.isRight(next)).toBe(job.lease?.holder === by)
      if (Either.isRight(next)) {
        assert(next.right._tag === "Running")
        expect(next.right.attempts).toBe(job.attempts)
        expect(next.right.lease?.holder).toBe(by)
        expect(next.right.lease?.expiresAt).toStrictEqual(
          leaseEvent._tag === "LeaseRenewed" ? leaseEvent.lease.expiresAt : leaseEvent.at
        )
      }
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop("no lease event applies to a job that is not running", [finishedJob, leaseEvent], ([job, leaseEvent]) => {
    expect(Either.isLeft(transition(job, leaseEvent))).toBe(true)
  })
})

describe("notification claims", () => {
  it.prop(
    "a channel is claimed only while pending or once its claim has expired; settled only by its claim's holder",
    [finishedJob, notificationEvent],
    ([job, notificationEvent]) => {
      assert(job._tag === "Succeeded" || job._tag === "Failed")
      const state = job.notifications[notificationEvent.channel]
      const next = transition(job, notificationEvent)
      if (notificationEvent._tag === "NotificationClaimed") {
        const claimable = state === "pending" || (isClaim(state) && !isLive(state, notificationEvent.at))
        expect(Either.isRight(next)).toBe(claimable)
      } else {
        expect(Either.isRight(next)).toBe(isClaim(state) && state.holder === notificationEvent.holder)
      }
      if (Either.isRight(next)) {
        assert(next.right._tag === job._tag)
        const now = next.right.notifications[notificationEvent.channel]
        expect(now).toStrictEqual(
          notificationEvent._tag === "NotificationClaimed" ? notificationEvent.claim : notificationEvent.outcome
        )
        // The other channel is left as it was.
        const other = notificationEvent.channel === "email" ? "inApp" : "email"
        expect(next.right.notifications[other]).toStrictEqual(job.notifications[other])
      }
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "two holders claiming a channel at the same moment: at most one claim holds",
    [finishedJob, instant],
    ([job, at]) => {
      const claimBy = (holder: string) =>
        NotificationClaimed.make({
          channel: "email",
          at,
          claim: new ChannelClaim({ holder, expiresAt: DateTime.add(at, { minutes: 6 }) })
        })
      const first = transition(job, claimBy("worker-a"))
      if (Either.isRight(first)) expect(Either.isLeft(transition(first.right, claimBy("worker-b")))).toBe(true)
    }
  )

  it.prop(
    "records written before leases and claims still read: a running job without a lease, a ledger of plain states",
    [runningJob, FastCheck.boolean()],
    ([running, succeeds]) => {
      const old = (job: Job) => {
        const { lease: _, ...encoded } = Schema.encodeSync(ExportJob)(job) as Record<string, unknown>
        return Schema.decodeUnknownSync(ExportJob)(encoded)
      }
      const read = old(running)
      assert(read._tag === "Running")
      expect(read.lease).toBeUndefined()
      const finished = Either.getOrThrow(transition(
        running,
        succeeds
          ? Completed.make({ at: DateTime.unsafeMake(T0), result: someResult })
          : Failed.make({
            at: DateTime.unsafeMake(T0),
            failure: new JobFailure({ reason: "QueryFailed", userMessage: "x", retryable: true })
          })
      ))
      const readFinished = old(finished)
      assert(readFinished._tag === "Succeeded" || readFinished._tag === "Failed")
      expect(readFinished.notifications).toStrictEqual(new NotificationLedger({ inApp: "pending", email: "pending" }))
    }
  )
})

describe("the same export", () => {
  /** The rule as first written: structural equality of the report type and parameters, and the same format. */
  const structurallySame = (a: Pick<Job, "report" | "format">, b: Pick<Job, "report" | "format">) =>
    a.format === b.format &&
    Equal.equals(
      Data.struct({ _tag: a.report._tag, ...a.report.params }),
      Data.struct({ _tag: b.report._tag, ...b.report.params })
    )

  const request = Arbitrary.make(ReportRequest).map((report) => ({ report, format: "csv" as const }))
  // Nearby requests, so that equal and almost equal pairs are common: one parameter changed, added or dropped.
  const pair = request.chain((a) =>
    FastCheck.oneof(
      FastCheck.constant(a),
      FastCheck.constant({ ...a, report: { ...a.report, params: { ...a.report.params } } as typeof a.report }),
      request,
      Arbitrary.make(ReportRequest).map((other) => ({
        ...a,
        report: { ...a.report, params: { ...a.report.params, dateTo: other.params.dateTo } } as typeof a.report
      })),
      FastCheck.constant({
        ...a,
        report: { ...a.report, params: { ...a.report.params, timezone: undefined } } as unknown as typeof a.report
      })
    ).map((b) => [a, b] as const)
  )

  it.prop("sameRequest and sameRequestAs agree with structural equality", [pair], ([[a, b]]) => {
    expect(sameRequest(a, b)).toBe(structurallySame(a, b))
    expect(sameRequestAs(b)(a)).toBe(structurallySame(a, b))
    expect(sameRequest(b, a)).toBe(structurallySame(b, a))
  }, { fastCheck: { numRuns: 500 } })
})

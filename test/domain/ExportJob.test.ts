import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Data, DateTime, Either, Equal, FastCheck, Redacted, Schema } from "effect"
import {
  Completed,
  ExportJob,
  ExportResult,
  isFinished,
  JobEvent,
  JobFailure,
  newJob,
  sameRequest,
  sameRequestAs,
  transition
} from "../../src/domain/ExportJob.js"
import type { ExportJob as Job, JobStatus } from "../../src/domain/ExportJob.js"
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
    [freshJob, FastCheck.array(Arbitrary.make(JobEvent), { maxLength: 12 })],
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
            // A delivery is settled once: pending may become sent or failed, nothing else ever moves.
            expect(was === now || (was === "pending" && (now === "sent" || now === "failed"))).toBe(true)
          }
        }
      }
    },
    RUNS
  )

  it.prop(
    "a finished job keeps its status and outcome whatever happens next",
    [freshJob, FastCheck.array(Arbitrary.make(JobEvent), { maxLength: 12 })],
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
  const statusAfter = (job: Job, event: JobEvent): JobStatus | "rejected" =>
    Either.match(transition(job, event), { onLeft: () => "rejected" as const, onRight: (next) => next._tag })

  it("takes the happy path Queued -> Running -> Succeeded and owes both notifications", () => {
    const running = step(queued, { _tag: "Started", at })
    expect(running._tag).toBe("Running")
    expect(running.attempts).toBe(1)
    const succeeded = step(running, Completed.make({ at, result }))
    expect(succeeded._tag === "Succeeded" && succeeded.notifications).toMatchObject({
      inApp: "pending",
      email: "pending"
    })
  })

  it("counts a second start of a running job as another attempt (a worker died)", () => {
    const again = step(step(queued, { _tag: "Started", at }), { _tag: "Started", at })
    expect(again._tag).toBe("Running")
    expect(again.attempts).toBe(2)
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

  it("settles each notification once", () => {
    const succeeded = step(step(queued, { _tag: "Started", at }), Completed.make({ at, result }))
    const sent = step(succeeded, { _tag: "NotificationSettled", channel: "email", outcome: "sent" })
    expect(statusAfter(sent, { _tag: "NotificationSettled", channel: "email", outcome: "sent" })).toBe("rejected")
    expect(statusAfter(sent, { _tag: "NotificationSettled", channel: "inApp", outcome: "failed" })).toBe("Succeeded")
  })

  it("can cancel a queued or running job, never a finished one", () => {
    const running = step(queued, { _tag: "Started", at })
    expect(statusAfter(queued, { _tag: "Cancelled", at })).toBe("Cancelled")
    expect(statusAfter(running, { _tag: "Cancelled", at })).toBe("Cancelled")
    expect(statusAfter(step(running, Completed.make({ at, result })), { _tag: "Cancelled", at })).toBe("rejected")
  })
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

// Runs export scenarios end to end on the in-memory adapters: request, queue, worker, file, link and
// notifications, then checks that each job ended where its scenario says it must.
import { Effect, Option, Redacted } from "effect"
import { FaultInjection } from "../../adapters/memory/FaultInjection.js"
import { MemoryOutbox } from "../../adapters/memory/MemoryEmailSender.js"
import { MemoryInbox } from "../../adapters/memory/MemoryInAppNotifier.js"
import { MemoryQueue } from "../../adapters/memory/MemoryJobQueue.js"
import { JobStore } from "../../application/ports/JobStore.js"
import { requestExport } from "../../application/RequestExport.js"
import { EmailAddress, MerchantId, Owner, UserId } from "../../domain/Identifiers.js"
import type { ReportType } from "../../domain/Reports.js"
import { drainQueue } from "./InProcessWorker.js"
import type { Scenario } from "./Scenarios.js"

export interface SimulationOptions {
  readonly scenarios: ReadonlyArray<Scenario>
  /** How many jobs to run per scenario. */
  readonly jobsPerScenario: number
  readonly reportType: ReportType
  readonly dateFrom: string
  readonly dateTo: string
}

export interface JobReport {
  readonly scenario: string
  readonly jobId: string | undefined
  readonly status: string
  readonly reason: string | undefined
  readonly rows: number | undefined
  readonly emails: number
  readonly inApp: number
  readonly problems: ReadonlyArray<string>
}

export interface Summary {
  readonly jobs: number
  readonly succeeded: number
  readonly failed: number
  readonly emails: number
  readonly inApp: number
  readonly unexpected: number
}

const inputFor = (options: SimulationOptions) => ({
  reportType: options.reportType,
  format: "csv",
  params: { dateFrom: options.dateFrom, dateTo: options.dateTo }
})

const runOne = (scenario: Scenario, index: number, options: SimulationOptions) =>
  Effect.gen(function*() {
    const faults = yield* FaultInjection
    const queue = yield* MemoryQueue
    const store = yield* JobStore
    const emails = yield* MemoryOutbox
    const inApp = yield* MemoryInbox
    const owner = new Owner({
      userId: UserId.make(`sim-${scenario.name}-${index}`),
      merchantId: MerchantId.make("m-demo")
    })
    const caller = { owner, email: Redacted.make(EmailAddress.make(`${owner.userId}@example.com`)) }

    yield* faults.set(scenario.faults, scenario.times)
    const requested = yield* Effect.either(requestExport(caller, inputFor(options)))
    if (requested._tag === "Right") {
      yield* drainQueue()
      if (scenario.redeliver) {
        const body = (yield* queue.published).find((published) => published.includes(requested.right.jobId))
        if (body !== undefined) {
          yield* Effect.logInfo("delivering the message again").pipe(
            Effect.annotateLogs({ jobId: requested.right.jobId })
          )
          yield* queue.duplicate(body)
          yield* drainQueue()
        }
      }
    }
    yield* faults.clear

    const newest = (yield* store.listByOwner(owner, { limit: 1, after: undefined })).jobs[0]
    const job = requested._tag === "Right" ? Option.getOrUndefined(yield* store.get(requested.right.jobId)) : newest
    const jobId = job?.jobId
    const emailCount = (yield* emails.outbox).filter((message) => message.jobId === jobId).length
    const inAppCount = (yield* inApp.deliveries).filter((notification) => notification.jobId === jobId).length
    const status = requested._tag === "Left" ? "Rejected" : job?._tag ?? "Missing"
    const reason = requested._tag === "Left"
      ? requested.left._tag
      : job?._tag === "Failed"
      ? job.failure.reason
      : undefined

    const problems: Array<string> = []
    const expected = scenario.expect
    if (status !== expected.status) problems.push(`ended ${status}, expected ${expected.status}`)
    if (reason !== expected.reason) problems.push(`reason ${reason ?? "none"}, expected ${expected.reason ?? "none"}`)
    if (emailCount !== expected.emails) problems.push(`${emailCount} emails, expected ${expected.emails}`)
    if (inAppCount !== expected.inApp) problems.push(`${inAppCount} in-app notifications, expected ${expected.inApp}`)
    if (status === "Rejected" && job !== undefined && job._tag !== "Failed") {
      problems.push(`the refused job was left ${job._tag}`)
    }
    return {
      scenario: scenario.name,
      jobId,
      status,
      reason,
      rows: job?._tag === "Succeeded" ? job.result.rowCount : undefined,
      emails: emailCount,
      inApp: inAppCount,
      problems
    } satisfies JobReport
  })

export const simulate = (options: SimulationOptions) =>
  Effect.gen(function*() {
    const reports: Array<JobReport> = []
    for (const scenario of options.scenarios) {
      for (let index = 1; index <= options.jobsPerScenario; index++) {
        yield* Effect.logInfo(`scenario ${scenario.name}: ${scenario.description}`)
        const report = yield* runOne(scenario, index, options)
        yield* report.problems.length === 0
          ? Effect.logInfo(`scenario ${scenario.name}: as expected (${report.status})`)
          : Effect.logError(`scenario ${scenario.name}: UNEXPECTED: ${report.problems.join("; ")}`)
        reports.push(report)
      }
    }
    const emails = yield* Effect.map(MemoryOutbox, (sender) => sender.outbox).pipe(Effect.flatten)
    const inApp = yield* Effect.map(MemoryInbox, (notifier) => notifier.deliveries).pipe(Effect.flatten)
    const summary: Summary = {
      jobs: reports.length,
      succeeded: reports.filter((r) => r.status === "Succeeded").length,
      failed: reports.filter((r) => r.status === "Failed" || r.status === "Rejected").length,
      emails: emails.length,
      inApp: inApp.length,
      unexpected: reports.filter((r) => r.problems.length > 0).length
    }
    return { reports, summary }
  })

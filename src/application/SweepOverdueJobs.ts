// The sweeper (ADR 30): the last line behind the queue's redeliveries. A job can be left in progress with nothing
// that will ever move it: its message went to the dead-letter queue while the job store was down, its worker died on
// the message's last receive, or the message was lost. Every few minutes the sweeper reads the jobs still in
// progress long after their request, fails each one that is overdue (`isOverdue`) and tells its user.
import { Config, DateTime, Duration, Effect, Layer, Schedule } from "effect"
import type { ExportJob } from "../domain/ExportJob.js"
import type { ExportJobId } from "../domain/Identifiers.js"
import { ExportSettings } from "./ExportSettings.js"
import { JobStore } from "./ports/JobStore.js"
import { sweepJob } from "./RunExport.js"

/** How often a Node runtime sweeps, and the stack's schedule for the Lambda worker. */
export const DEFAULT_SWEEP_INTERVAL = Duration.minutes(5)

/** SWEEP_INTERVAL: how often a Node runtime sweeps, from 1 second to 1 hour, 5 minutes unless set. */
export const sweepIntervalConfig: Config.Config<Duration.Duration> = Config.duration("SWEEP_INTERVAL").pipe(
  Config.validate({
    message: "must be a duration from 1 second to 1 hour",
    validation: (interval) =>
      Duration.greaterThanOrEqualTo(interval, Duration.seconds(1)) &&
      Duration.lessThanOrEqualTo(interval, Duration.hours(1))
  }),
  Config.withDefault(DEFAULT_SWEEP_INTERVAL)
)

/** Jobs read, and swept, at a time. */
const SWEEP_PAGE = 100

/** Jobs swept at once: each may send an email, retried for up to EMAIL_RETRY_WINDOW. */
const SWEEP_CONCURRENCY = 4

export interface SweepSummary {
  /** Jobs in progress created more than EXPORT_DEADLINE ago. */
  readonly examined: number
  /** Of those, the jobs failed now (their users told). */
  readonly failed: number
}

/**
 * One sweep over every job in progress created more than EXPORT_DEADLINE ago. A job that a store outage keeps the
 * sweeper from judging is logged and left for the next sweep; the sweep itself fails only when it cannot list.
 */
export const sweepOverdueJobs = Effect.fn("Exports.sweepOverdue")(function*() {
  const store = yield* JobStore
  const settings = yield* ExportSettings
  const before = DateTime.subtractDuration(yield* DateTime.now, settings.deadline)
  let examined = 0
  let failed = 0
  let after: ExportJobId | undefined = undefined
  while (true) {
    const page: ReadonlyArray<ExportJob> = yield* store.listActiveCreatedBefore(before, SWEEP_PAGE, after)
    const outcomes = yield* Effect.forEach(page, (job) =>
      sweepJob(job).pipe(
        Effect.catchTag("JobStoreUnavailable", (error) =>
          Effect.logWarning("the sweeper could not judge a job; the next sweep will", { detail: error.detail }).pipe(
            Effect.annotateLogs({ jobId: job.jobId }),
            Effect.as(undefined)
          ))
      ), { concurrency: SWEEP_CONCURRENCY })
    examined += page.length
    failed += outcomes.filter((outcome) => outcome?._tag === "Finished").length
    if (page.length < SWEEP_PAGE) break
    after = page[page.length - 1]!.jobId
  }
  if (failed > 0) yield* Effect.logWarning("the sweeper failed overdue jobs and told their users", { examined, failed })
  return { examined, failed } satisfies SweepSummary
})

/**
 * Sweeps every `interval`, for as long as it runs (a Node runtime forks it for its life). A sweep that fails (the
 * store is down) is logged, and the next one tries again.
 */
export const sweepEvery = (interval: Duration.Duration) =>
  sweepOverdueJobs().pipe(
    Effect.catchAll((error) =>
      Effect.logWarning("the sweep could not list the jobs in progress", { detail: error.detail })
    ),
    Effect.repeat(Schedule.spaced(interval)),
    Effect.asVoid
  )

/** The sweeper as a Node runtime runs it: forked for the layer's life, a sweep at start and every `interval`. */
export const layer = (interval: Duration.Duration) => Layer.scopedDiscard(Effect.forkScoped(sweepEvery(interval)))

/** `layer` every SWEEP_INTERVAL. */
export const layerConfig = Layer.unwrapEffect(Effect.map(sweepIntervalConfig, layer))

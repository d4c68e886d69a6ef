// The synchronous half of an export: validate, record the job, queue it, answer with its id. Nothing here
// grows with the report's size, so it answers in milliseconds whatever was asked for.
import type { Redacted } from "effect"
import { Clock, DateTime, Effect, Either, FiberRef, FiberRefs, HashMap, Option, Schema } from "effect"
import { IdempotencyKeyReused, JobStoreUnavailable } from "../domain/Errors.js"
import type { ExportLimitReached, JobConflict } from "../domain/Errors.js"
import {
  IDEMPOTENCY_WINDOW_MILLIS,
  newJob,
  queueUnavailableFailure,
  sameRequest,
  transition
} from "../domain/ExportJob.js"
import type { ExportJob } from "../domain/ExportJob.js"
import { ExportFormat } from "../domain/FileFormats.js"
import type { EmailAddress, ExportJobId } from "../domain/Identifiers.js"
import type { Owner } from "../domain/Identifiers.js"
import { ReportCatalogue } from "../domain/Reports.js"
import type { ReportDefinition, ReportRequest } from "../domain/Reports.js"
import { decodeInput } from "../domain/Validation.js"
import { CurrentCatalogue, perCatalogue } from "./CurrentCatalogue.js"
import { ExportSettings } from "./ExportSettings.js"
import { JobIds } from "./JobIds.js"
import { ExportMessage, JobQueue } from "./ports/JobQueue.js"
import { holdsIdempotencyKey, JobStore } from "./ports/JobStore.js"

/** The authenticated user asking, as the auth adapter established it. */
export interface Caller {
  readonly owner: Owner
  readonly email: Redacted.Redacted<EmailAddress>
}

type CommandOf<R> = R extends { readonly _tag: infer T; readonly params: infer P } ?
  { readonly reportType: T; readonly format: ExportFormat; readonly params: P }
  : never

/** What a client sends: the report, the file format and the report's parameters. */
export type ExportCommand = CommandOf<ReportRequest>

/** A report named and its parameters, as any request about one report takes them (an export, a preview). */
export const reportFieldsOf = (definition: ReportDefinition) => ({
  reportType: Schema.Literal(definition.reportType),
  params: definition.params
})

const commandFor = (definition: ReportDefinition) => {
  const { params, reportType } = reportFieldsOf(definition)
  return Schema.Struct({ reportType, format: ExportFormat, params })
}

/** The commands a catalogue's reports accept, one member per report. */
export const exportCommandOf = perCatalogue((catalogue) =>
  // One member per definition, its reportType paired with its own params: what ExportCommand says of each report.
  Schema.Union(...catalogue.definitions.map(commandFor)) as unknown as Schema.Schema<ExportCommand, unknown>
)

export const ExportCommand = exportCommandOf(ReportCatalogue)

const commandDecoderOf = perCatalogue((catalogue) => decodeInput(exportCommandOf(catalogue)))
// Built as the module loads rather than on the first request.
commandDecoderOf(ReportCatalogue)

/** The report a command asks for: its reportType and params are one report's, as ExportCommand pairs them. */
const reportOf = (cmd: ExportCommand): ReportRequest => ({ _tag: cmd.reportType, params: cmd.params }) as ReportRequest

/** Built from a job's already typed fields, so not validated again. */
export const messageFor = (job: ExportJob): ExportMessage =>
  new ExportMessage({
    jobId: job.jobId,
    userId: job.owner.userId,
    merchantId: job.owner.merchantId,
    report: job.report
  }, true)

export interface RequestOptions {
  /** The client's Idempotency-Key header, if any. */
  readonly idempotencyKey?: string | undefined
}

const IdempotencyKey = Schema.String.pipe(
  Schema.pattern(/^[\x21-\x7e]{1,255}$/, {
    identifier: "idempotency-key",
    message: () => "must be 1 to 255 visible ASCII characters"
  })
)
const decodeKey = decodeInput(Schema.Struct({ "Idempotency-Key": Schema.optional(IdempotencyKey) }))

/**
 * The job a request with an idempotency key is answered with instead of starting another: the owner's newest job
 * created with that key, while it holds it (`holdsIdempotencyKey`) within the window. The same key with another
 * request is refused (IdempotencyKeyReused).
 */
const keyedAnswer = (
  store: JobStore["Type"],
  owner: Owner,
  wanted: Pick<ExportJob, "report" | "format">,
  key: string
) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const prior = yield* store.findByIdempotencyKey(owner, key)
    if (
      Option.isSome(prior) && holdsIdempotencyKey(prior.value) &&
      now - prior.value.requestedAt.epochMillis < IDEMPOTENCY_WINDOW_MILLIS
    ) {
      if (!sameRequest(prior.value, wanted)) return yield* new IdempotencyKeyReused({ jobId: prior.value.jobId })
      return prior
    }
    return Option.none<ExportJob>()
  })

/** The fiber's log and span annotations set to `logs` and `spans`, both in one copy of its FiberRefs. */
const setAnnotations = (logs: HashMap.HashMap<string, unknown>, spans: HashMap.HashMap<string, unknown>) =>
  Effect.updateFiberRefs((fiberId, refs) =>
    FiberRefs.updateManyAs(refs, {
      entries: [
        [FiberRef.currentLogAnnotations, [[fiberId, logs]]],
        [FiberRef.currentTracerSpanAnnotations, [[fiberId, spans]]]
      ]
    })
  )

/**
 * `Effect.annotateLogs({ jobId })` and `Effect.annotateSpans({ jobId })` in one step: each is a `locally` of its own
 * (an acquire/use/release and two copies of the fiber's FiberRefs), and this runs once per accepted export (ADR 54's
 * budget). The annotations are restored as they were afterwards, as `locally` restores them.
 */
const withJobId = (jobId: ExportJobId) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => {
    const logs = fiber.getFiberRef(FiberRef.currentLogAnnotations)
    const spans = fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations)
    return Effect.acquireUseRelease(
      setAnnotations(HashMap.set(logs, "jobId", jobId), HashMap.set(spans, "jobId", jobId)),
      () => self,
      () => setAnnotations(logs, spans)
    )
  })

/** What a request with an idempotency key is answered with after a refused create: its key's job, or `E`. */
type KeyedAnswer<E> = Effect.Effect<Option.Option<ExportJob>, E | JobStoreUnavailable | IdempotencyKeyReused>

/** The key's job (`keyedAnswer`), or `otherwise` when it has none. */
const keyedAnswerOr = <E>(
  store: JobStore["Type"],
  owner: Owner,
  wanted: Pick<ExportJob, "report" | "format">,
  key: string,
  otherwise: () => E
): KeyedAnswer<E> => Effect.filterOrFail(keyedAnswer(store, owner, wanted, key), Option.isSome, otherwise)

/** Answers with a job recorded before this request, saying so on a line that names it. */
const answeredWith = (existing: ExportJob) =>
  Effect.logInfo("answering with the existing export", { status: existing._tag }).pipe(
    Effect.annotateLogs({ jobId: existing.jobId }),
    Effect.as(existing)
  )

/**
 * Validates `input`, records a Queued job and publishes it. When the queue refuses the message the job is marked
 * Failed (QueueUnavailable) before the error is returned, so no job waits in Queued for a message that never left.
 * A request repeated with the same Idempotency-Key within a day, or while the same export is still in progress,
 * gets the existing job instead of a second one; a key whose job the queue refused starts the export afresh. A new
 * export that would pass its user's or merchant's cap of exports in progress fails with ExportLimitReached (ADR 45);
 * a repeat answered with its existing job never does.
 *
 * Traced with the span `Effect.fn("Exports.request")` would make, without the call-site stack trace Effect.fn
 * captures on every call: this runs once per accepted export, and the accept path's CPU per request is the budget
 * of docs/adr/0013-accept-route-on-node-http.md.
 */
export const requestExport = Effect.fnUntraced(function*(
  caller: Caller,
  input: unknown,
  options: RequestOptions = {}
) {
  const cmd = yield* commandDecoderOf(yield* CurrentCatalogue)(input)
  const key = options.idempotencyKey === undefined ? undefined : (yield* Either.match(
    decodeKey({ "Idempotency-Key": options.idempotencyKey }),
    { onLeft: Effect.fail, onRight: Effect.succeed }
  ))["Idempotency-Key"]
  const wanted = { report: reportOf(cmd), format: cmd.format }
  const store = yield* JobStore
  const queue = yield* JobQueue

  if (key !== undefined) {
    const prior = yield* keyedAnswer(store, caller.owner, wanted, key)
    if (Option.isSome(prior)) return yield* answeredWith(prior.value)
  }

  const jobId = yield* JobIds.pipe(Effect.flatMap((ids) => ids.next))
  const requestedAt = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
  const job = newJob({ jobId, owner: caller.owner, email: caller.email, ...wanted, requestedAt, idempotencyKey: key })

  const { deadline, limits } = yield* ExportSettings
  return yield* Effect.gen(function*() {
    // The store answers with the same export in progress itself, judged with the create (JobStore's create): of
    // identical requests racing, one starts the export and the others are answered with it.
    const existing = yield* store.create(job, { limits, inProgressDeadline: deadline }).pipe(
      // A repeat of a request accepted a moment ago, racing its own first try, is answered as that one was, not
      // refused: the slot it would take is the one its first try holds.
      Effect.catchTag(
        "ExportLimitReached",
        (refused): KeyedAnswer<ExportLimitReached> =>
          key === undefined ? Effect.fail(refused) : keyedAnswerOr(store, caller.owner, wanted, key, () => refused)
      ),
      // Another request with the same key won the race: answer as it was answered.
      Effect.catchTag(
        "JobConflict",
        (conflict): KeyedAnswer<JobConflict> =>
          key === undefined ? Effect.fail(conflict) : Effect.zipRight(
            Effect.logInfo("same idempotency key created concurrently"),
            // The key is taken but its job cannot be read yet (a durable store between two writes): the client is
            // told to retry, and its retry finds the job.
            keyedAnswerOr(store, caller.owner, wanted, key, () =>
              new JobStoreUnavailable({ detail: "idempotency key claimed, its job not yet readable" }))
          )
      )
    )
    if (Option.isSome(existing)) return yield* answeredWith(existing.value)
    yield* queue.publish(messageFor(job)).pipe(
      Effect.tapError((error) =>
        Effect.gen(function*() {
          yield* Effect.logWarning("queue refused the export; marking the job failed", { detail: error.detail })
          const failedAt = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
          const failed = Either.getOrThrow(
            transition(job, { _tag: "Failed", at: failedAt, failure: queueUnavailableFailure })
          )
          yield* store.update(failed, job.revision).pipe(
            Effect.catchAll((cause) => Effect.logError("could not mark the unqueued job failed", { cause: cause._tag }))
          )
        })
      )
    )
    yield* Effect.logInfo("export accepted", { reportType: job.report._tag })
    return job
  }).pipe(withJobId(jobId))
}, Effect.withSpan("Exports.request", { captureStackTrace: false }))

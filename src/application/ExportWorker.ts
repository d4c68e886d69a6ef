// One queue delivery in, one verdict out: the part of every worker runtime (in-process, SQS poller, Lambda)
// that is not about its queue. Runtimes only turn the verdict into their queue's acknowledgement.
import { Cause, Config, Effect, ParseResult, Schema, SchemaAST } from "effect"
import { ReportCatalogue } from "../domain/Reports.js"
import { CurrentCatalogue, perCatalogue } from "./CurrentCatalogue.js"
import { ExportMessage } from "./ports/JobQueue.js"
import { runExport, unknownDelivery } from "./RunExport.js"
import type { Delivery, RunOutcome } from "./RunExport.js"

export type DeliveryVerdict =
  /** Done with, for good: delete the message. */
  | { readonly _tag: "Ack"; readonly outcome: Exclude<RunOutcome, { readonly _tag: "Deferred" }> }
  /** Could not be handled now: leave it for the queue to deliver again. */
  | { readonly _tag: "Retry"; readonly reason: string }
  /** Can never be handled (not an export message): send it to the dead-letter queue. */
  | { readonly _tag: "Reject"; readonly reason: string }

/**
 * WORKER_CONCURRENCY: the exports one worker runs at once, 1 to 16, 2 unless set (the stack sets its SQS batch size).
 * Every worker runtime reads it here.
 */
export const workerConcurrencyConfig: Config.Config<number> = Config.integer("WORKER_CONCURRENCY").pipe(
  // Validated before the default, or the failure would lose the variable's name.
  Config.validate({ message: "must be an integer from 1 to 16", validation: (n) => n >= 1 && n <= 16 }),
  Config.withDefault(2)
)
/** A queue message's body read back, with the reports of `catalogue`. */
const messageDecoderOf = perCatalogue((catalogue) => {
  const decode = Schema.decodeUnknown(
    Schema.parseJson(Schema.Struct({ ...ExportMessage.fields, report: catalogue.ReportRequest }))
  )
  // Decoded field by field, so the class is built without checking the fields a second time.
  return (body: string) => Effect.map(decode(body), (fields) => new ExportMessage(fields, true))
})
// Built as the module loads rather than on the first delivery.
messageDecoderOf(ReportCatalogue)

/** `delivery` is what the queue tells of this delivery, when it tells anything (SQS's receive count). */
export const handleDelivery = Effect.fn("Exports.handleDelivery")(function*(
  body: string,
  delivery: Delivery = unknownDelivery
) {
  const decoded = yield* Effect.either(messageDecoderOf(yield* CurrentCatalogue)(body))
  if (decoded._tag === "Left") {
    // Where the message is wrong, not what it holds: a body may carry user and merchant ids.
    const problems = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
      .slice(0, 10)
      .map((issue) => `${issue.path.join(".") || "(body)"}: ${issue._tag}`)
    yield* Effect.logError("undecodable export message", { problems })
    return { _tag: "Reject", reason: "undecodable message" } satisfies DeliveryVerdict
  }
  return yield* runExport(decoded.right, delivery).pipe(
    Effect.map((outcome): DeliveryVerdict =>
      outcome._tag === "Deferred"
        ? { _tag: "Retry", reason: "job running under another delivery" }
        : { _tag: "Ack", outcome }
    ),
    Effect.catchTag(
      "JobStoreUnavailable",
      (error) =>
        Effect.logWarning("job store unavailable; the message will be delivered again", { detail: error.detail }).pipe(
          Effect.as<DeliveryVerdict>({ _tag: "Retry", reason: "job store unavailable" })
        )
    ),
    Effect.catchAllDefect((defect) =>
      Effect.logError("export crashed; the message will be delivered again", Cause.die(defect)).pipe(
        Effect.as<DeliveryVerdict>({ _tag: "Retry", reason: "defect" })
      )
    ),
    Effect.annotateLogs({ jobId: decoded.right.jobId })
  )
})

/** The names of an object schema's encoded fields, in the order its encoding writes them. */
const encodedFieldNames = (ast: SchemaAST.AST): ReadonlyArray<string> => {
  const encoded = SchemaAST.encodedAST(ast)
  if (encoded._tag !== "TypeLiteral") throw new Error(`not an object schema: ${encoded._tag}`)
  return encoded.propertySignatures.map((field) => String(field.name))
}

/** Each report's parameter names, in the order the message schema writes them. */
const paramNamesOf = (catalogue: typeof ReportCatalogue): ReadonlyMap<unknown, ReadonlyArray<string>> => {
  const encoded = SchemaAST.encodedAST(catalogue.ReportRequest.ast)
  const members = encoded._tag === "Union" ? encoded.types : [encoded]
  return new Map(members.map((member) => {
    const fields = member._tag === "TypeLiteral" ? member.propertySignatures : []
    const tag = fields.find((field) => field.name === "_tag")?.type
    const params = fields.find((field) => field.name === "params")?.type
    if (tag?._tag !== "Literal" || params === undefined) throw new Error("a report request is { _tag, params }")
    return [tag.literal, encodedFieldNames(params)]
  }))
}

const inOrder = (values: Readonly<Record<string, unknown>>, names: ReadonlyArray<string>) => {
  const ordered: Record<string, unknown> = {}
  for (const name of names) {
    if (name in values) ordered[name] = values[name]
  }
  return ordered
}

/**
 * The message as its schema encodes it (`Schema.parseJson(ExportMessage)`, with the reports of `catalogue`),
 * written directly: every field's encoded form is its typed form (ids, dates, zones and literals are strings,
 * limits numbers), so encoding is ordering the keys as the schema does. A message is valid by construction
 * (`messageFor` builds it from a typed job), so its fields are not checked again on every publish; the tests check
 * both encodings agree.
 */
export const messageEncoderOf = perCatalogue((catalogue) => {
  const paramNames = paramNamesOf(catalogue)
  return (message: ExportMessage): string =>
    JSON.stringify({
      jobId: message.jobId,
      userId: message.userId,
      merchantId: message.merchantId,
      report: {
        _tag: message.report._tag,
        params: inOrder(message.report.params, paramNames.get(message.report._tag)!)
      }
    })
})

/** `messageEncoderOf` the real catalogue: what a queue adapter publishes. */
export const encodeMessage = messageEncoderOf(ReportCatalogue)

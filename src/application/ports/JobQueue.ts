// The queue between the API and the workers: the message an export puts on it, how that message is written and read
// back with the catalogue in use, and the port that publishes it.
import { Context, Effect, Schema, SchemaAST } from "effect"
import type { QueueUnavailable } from "../../domain/Errors.js"
import { ExportJobId, MerchantId, UserId } from "../../domain/Identifiers.js"
import { ReportCatalogue, ReportRequest } from "../../domain/Reports.js"
import { perCatalogue } from "../CurrentCatalogue.js"

/**
 * What the API puts on the queue for a worker. The job record stays the source of truth: a worker re-reads
 * the job and refuses a message whose owner does not match it.
 */
export class ExportMessage extends Schema.Class<ExportMessage>("ExportMessage")({
  jobId: ExportJobId,
  userId: UserId,
  merchantId: MerchantId,
  report: ReportRequest
}) {}

export class JobQueue extends Context.Tag("exports/JobQueue")<JobQueue, {
  readonly publish: (message: ExportMessage) => Effect.Effect<void, QueueUnavailable>
}>() {}

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

/** A queue message's body read back, with the reports of `catalogue`. */
export const messageDecoderOf = perCatalogue((catalogue) => {
  const decode = Schema.decodeUnknown(
    Schema.parseJson(Schema.Struct({ ...ExportMessage.fields, report: catalogue.ReportRequest }))
  )
  // Decoded field by field, so the class is built without checking the fields a second time.
  return (body: string) => Effect.map(decode(body), (fields) => new ExportMessage(fields, true))
})
// Built as the module loads rather than on the first delivery.
messageDecoderOf(ReportCatalogue)

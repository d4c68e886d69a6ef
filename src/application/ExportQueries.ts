// Reading exports, for their owner only. A job that exists but belongs to someone else is reported exactly as
// one that does not exist, so ids reveal nothing across tenants.
import { Effect, Either, Encoding, Option, Schema } from "effect"
import { JobNotFound } from "../domain/Errors.js"
import { ExportJobId } from "../domain/Identifiers.js"
import type { Owner } from "../domain/Identifiers.js"
import { decodeInput } from "../domain/Validation.js"
import { JobStore } from "./ports/JobStore.js"
import type { JobPage } from "./ports/JobStore.js"

const isJobId = Schema.is(ExportJobId)

export const getExport = Effect.fn("Exports.get")(function*(owner: Owner, jobId: string) {
  if (!isJobId(jobId)) return yield* new JobNotFound({ jobId })
  const store = yield* JobStore
  const job = yield* store.get(jobId)
  if (Option.isNone(job) || !owner.isOwnerOf(job.value)) return yield* new JobNotFound({ jobId })
  return job.value
})

const jobIdOfCursor = (cursor: string): Option.Option<ExportJobId> =>
  Either.getRight(Encoding.decodeBase64UrlString(cursor)).pipe(Option.filter(isJobId))

/** A page size as it comes in a query string. */
const Limit = Schema.transform(
  Schema.String.pipe(
    Schema.filter((text) => /^\d{1,3}$/.test(text) && Number(text) >= 1 && Number(text) <= 100, {
      identifier: "limit-range",
      message: () => "must be a whole number from 1 to 100"
    })
  ),
  Schema.Number,
  { strict: true, decode: Number, encode: String }
)

/** Where the previous page ended: opaque to clients, a job id to the store. Not signed: it only says where to start. */
const Cursor = Schema.transform(
  Schema.String.pipe(
    Schema.filter((text) => Option.isSome(jobIdOfCursor(text)), {
      identifier: "cursor",
      message: () => "must be a cursor from a previous page"
    })
  ),
  ExportJobId,
  { strict: true, decode: (text) => Option.getOrThrow(jobIdOfCursor(text)), encode: Encoding.encodeBase64Url }
)

export const ListExportsQuery = Schema.Struct({
  limit: Schema.optionalWith(Limit, { default: () => 20 }),
  cursor: Schema.optional(Cursor)
})

export interface ExportPage {
  readonly jobs: JobPage["jobs"]
  /** Opaque to clients: pass it back as `cursor` for the next page. */
  readonly nextCursor: string | undefined
}

const decodeListQuery = decodeInput(ListExportsQuery)

/** `query` is as it came in a URL: `{ limit?: "20", cursor?: "..." }`. */
export const listExports = Effect.fn("Exports.list")(function*(owner: Owner, query: unknown) {
  const { cursor, limit } = yield* Either.match(decodeListQuery(query), {
    onLeft: Effect.fail,
    onRight: Effect.succeed
  })
  const store = yield* JobStore
  const page = yield* store.listByOwner(owner, { limit, after: cursor })
  return {
    jobs: page.jobs,
    nextCursor: page.continueAfter === undefined ? undefined : Encoding.encodeBase64Url(page.continueAfter)
  } satisfies ExportPage
})

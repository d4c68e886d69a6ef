// Conditional GETs: a strong ETag over the caller and the exact body, and 304 Not Modified with no body when the
// client's If-None-Match names it. The cheap polling fallback where the event stream cannot run (ADR 32).
import type { HttpServerRequest } from "@effect/platform"
import { HttpServerResponse } from "@effect/platform"
import { Effect, Schema } from "effect"
import { createHash } from "node:crypto"
import type { Owner } from "../../domain/Identifiers.js"
import { CONDITIONAL_CACHE_CONTROL } from "./ConditionalGet.js"

/**
 * The tag of `body` as `owner` is answered it. The owner is part of it, so that two users' identical answers (two
 * empty lists) never share a tag, whatever a cache between them does with Vary.
 */
export const entityTagOf = (owner: Owner, body: string): string =>
  `"${
    createHash("sha256").update(JSON.stringify([owner.merchantId, owner.userId])).update("\n").update(body)
      .digest("base64url")
  }"`

/** If-None-Match's weak comparison (RFC 9110 13.1.2): `*`, or any listed tag, W/ or not, equal to `tag`. */
export const noneMatchNames = (ifNoneMatch: string | undefined, tag: string): boolean => {
  if (ifNoneMatch === undefined) return false
  const listed = ifNoneMatch.split(",").map((candidate) => candidate.trim().replace(/^W\//, ""))
  return listed.includes("*") || listed.includes(tag)
}

/**
 * `value` answered as JSON with its ETag for `owner`, or 304 and no body when the request's If-None-Match names that
 * tag. The body is encoded here, by `schema`, as the platform would encode the endpoint's success.
 */
export const conditionalJson = <A, I>(
  schema: Schema.Schema<A, I>,
  value: A,
  owner: Owner,
  request: HttpServerRequest.HttpServerRequest
) =>
  Effect.map(Effect.orDie(Schema.encode(schema)(value)), (encoded) => {
    const body = JSON.stringify(encoded)
    const etag = entityTagOf(owner, body)
    const headers = { etag, "cache-control": CONDITIONAL_CACHE_CONTROL, vary: "Authorization" }
    return noneMatchNames(request.headers["if-none-match"], etag)
      ? HttpServerResponse.empty({ status: 304, headers })
      : HttpServerResponse.text(body, { contentType: "application/json", headers })
  })

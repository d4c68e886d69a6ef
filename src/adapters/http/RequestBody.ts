// Reading a JSON request body ourselves, so that every client mistake (wrong content type, oversized or
// malformed body) is a 4xx in our error shape rather than a platform default or a 500.
import type { HttpServerRequest } from "@effect/platform"
import { Effect, Stream } from "effect"
import { BadRequest, fail, PayloadTooLarge, UnsupportedMediaType } from "./ApiErrors.js"

/** Export requests are a few hundred bytes; anything near this is not one. */
export const MAX_BODY_BYTES = 16 * 1024

const DRAIN_LIMIT_BYTES = 1024 * 1024

export const readJsonBody = (request: HttpServerRequest.HttpServerRequest, maxBytes = MAX_BODY_BYTES) =>
  Effect.gen(function*() {
    const contentType = (request.headers["content-type"] ?? "").toLowerCase()
    if (!/^application\/json\s*(;|$)/.test(contentType)) {
      return yield* fail(UnsupportedMediaType, "unsupported_media_type", "Send the body as application/json.")
    }
    const tooLarge = fail(PayloadTooLarge, "payload_too_large", `The body must be at most ${maxBytes} bytes.`)
    const declared = Number(request.headers["content-length"] ?? "0")
    if (declared > maxBytes) return yield* tooLarge
    const parts: Array<Uint8Array> = []
    let size = 0
    // Past the limit the rest is read and dropped, up to a bound, so the client gets its 413 rather than a reset
    // connection; beyond the bound the connection is cut.
    yield* request.stream.pipe(
      Stream.catchAll(() =>
        Stream.fromEffect(fail(BadRequest, "unreadable_body", "The request body could not be read."))
      ),
      Stream.runForEach((chunk) => {
        size += chunk.length
        if (size > DRAIN_LIMIT_BYTES) return tooLarge
        if (size <= maxBytes) parts.push(chunk)
        return Effect.void
      })
    )
    if (size > maxBytes) return yield* tooLarge
    const text = Buffer.concat(parts).toString("utf8").replace(/^\uFEFF/, "")
    return yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: () => "malformed" as const
    }).pipe(Effect.catchAll(() => fail(BadRequest, "malformed_json", "The body is not valid JSON.")))
  })

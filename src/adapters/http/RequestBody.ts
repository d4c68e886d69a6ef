// Reading a JSON request body ourselves, so that every client mistake (wrong content type, oversized or
// malformed body) is a 4xx in our error shape rather than a platform default or a 500. The rules are shared by
// the HttpApi handler (`readJsonBody`) and the node:http accept route (`readNodeJsonBody`, ADR 0013).
import type { HttpServerRequest } from "@effect/platform"
import { Effect, Stream } from "effect"
import type { IncomingMessage } from "node:http"
import { BadRequest, fail, PayloadTooLarge, UnsupportedMediaType } from "./ApiErrors.js"

/** Export requests are a few hundred bytes; anything near this is not one. */
export const MAX_BODY_BYTES = 16 * 1024

/**
 * Past the limit the rest is read and dropped, up to this bound, so the client gets its 413 rather than a reset
 * connection; beyond the bound the connection is cut.
 */
const DRAIN_LIMIT_BYTES = 1024 * 1024

const JSON_CONTENT_TYPE = /^application\/json\s*(;|$)/

const unsupportedMediaType = fail(UnsupportedMediaType, "unsupported_media_type", "Send the body as application/json.")
const payloadTooLarge = (maxBytes: number) =>
  fail(PayloadTooLarge, "payload_too_large", `The body must be at most ${maxBytes} bytes.`)
const unreadableBody = fail(BadRequest, "unreadable_body", "The request body could not be read.")

/**
 * What can be said of a request before its body is read, from its content type and declared length: the answer
 * that refuses it, or undefined. Not an effect of its own: every accepted export passes here.
 */
const refusalOf = (
  headers: Readonly<Record<string, string | Array<string> | undefined>>,
  maxBytes: number
): Effect.Effect<never, UnsupportedMediaType | PayloadTooLarge> | undefined => {
  const contentType = headers["content-type"]
  if (typeof contentType !== "string" || !JSON_CONTENT_TYPE.test(contentType.toLowerCase())) {
    return unsupportedMediaType
  }
  const declared = Number(headers["content-length"] ?? "0")
  return declared > maxBytes ? payloadTooLarge(maxBytes) : undefined
}

const parseJson = (parts: ReadonlyArray<Uint8Array>): Effect.Effect<unknown, BadRequest> => {
  const text = Buffer.concat(parts).toString("utf8").replace(/^\uFEFF/, "")
  try {
    return Effect.succeed(JSON.parse(text) as unknown)
  } catch {
    return fail(BadRequest, "malformed_json", "The body is not valid JSON.")
  }
}

export const readJsonBody = (request: HttpServerRequest.HttpServerRequest, maxBytes = MAX_BODY_BYTES) =>
  Effect.gen(function*() {
    const refusal = refusalOf(request.headers, maxBytes)
    if (refusal !== undefined) return yield* refusal
    const parts: Array<Uint8Array> = []
    let size = 0
    yield* request.stream.pipe(
      Stream.catchAll(() => Stream.fromEffect(unreadableBody)),
      Stream.runForEach((chunk) => {
        size += chunk.length
        if (size > DRAIN_LIMIT_BYTES) return payloadTooLarge(maxBytes)
        if (size <= maxBytes) parts.push(chunk)
        return Effect.void
      })
    )
    if (size > maxBytes) return yield* payloadTooLarge(maxBytes)
    return yield* parseJson(parts)
  })

type BodyRead =
  | { readonly _tag: "Read"; readonly parts: ReadonlyArray<Uint8Array>; readonly size: number }
  | { readonly _tag: "Unreadable" }
  | { readonly _tag: "BeyondDrainLimit" }

/** `readJsonBody` on a node:http request, read from its events rather than through a Stream. */
export const readNodeJsonBody = (request: IncomingMessage, maxBytes = MAX_BODY_BYTES) =>
  Effect.suspend((): Effect.Effect<unknown, UnsupportedMediaType | PayloadTooLarge | BadRequest> => {
    const refusal = refusalOf(request.headers, maxBytes)
    if (refusal !== undefined) return refusal
    return Effect.flatMap(
      Effect.async<BodyRead>((resume) => {
        const parts: Array<Uint8Array> = []
        let size = 0
        const finish = (result: BodyRead) => {
          request.off("data", onData).off("end", onEnd).off("error", onError)
          resume(Effect.succeed(result))
        }
        const onData = (chunk: Buffer) => {
          size += chunk.length
          if (size > DRAIN_LIMIT_BYTES) {
            request.destroy()
            finish({ _tag: "BeyondDrainLimit" })
          } else if (size <= maxBytes) {
            parts.push(chunk)
          }
        }
        const onEnd = () => finish({ _tag: "Read", parts, size })
        const onError = () => finish({ _tag: "Unreadable" })
        request.on("data", onData).on("end", onEnd).on("error", onError)
        return Effect.sync(() => {
          request.off("data", onData).off("end", onEnd).off("error", onError)
        })
      }),
      (read): Effect.Effect<unknown, BadRequest | PayloadTooLarge> => {
        if (read._tag === "Unreadable") return unreadableBody
        if (read._tag === "BeyondDrainLimit" || read.size > maxBytes) return payloadTooLarge(maxBytes)
        return parseJson(read.parts)
      }
    )
  })

// The handler of POST /api/dev/session (ADR 34): checks the Host header as the other development pages do, reads and
// validates the body as the export request does (each failing field named with its rule), and signs the token with
// the embedded server's own secret.
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import type { Redacted } from "effect"
import { Clock, DateTime, Duration, Effect, Either, Schema } from "effect"
import { decodeInput } from "../../domain/Validation.js"
import { signDevToken } from "../auth/JwtVerifier.js"
import type { AllowedHosts } from "./AllowedHosts.js"
import { hostAllowed, MISDIRECTED_MESSAGE } from "./AllowedHosts.js"
import { fail, invalidRequest, MisdirectedRequest } from "./ApiErrors.js"
import type { DemoDays } from "./DevSessionApi.js"
import { DevSession, DevSessionFields, EmbeddedApi } from "./DevSessionApi.js"
import { readJsonBody } from "./RequestBody.js"

export interface DevSessionSettings {
  /** The secret the server's verifier checks tokens with. */
  readonly secret: Redacted.Redacted<string>
  /** The Host names the route answers: the loopback names only. */
  readonly hosts: AllowedHosts
  /** The days the server's demo data covers, told to the app that signs in; none when there is no demo data. */
  readonly demoDays?: DemoDays | undefined
}

/** As long as `npm run dev-token`'s default: a working day. */
export const DEV_SESSION_TTL = Duration.hours(8)

const decodeFields = decodeInput(DevSessionFields)
const encodeSession = Schema.encode(DevSession)

export const layer = (settings: DevSessionSettings) =>
  HttpApiBuilder.group(
    EmbeddedApi,
    "dev",
    (handlers) =>
      handlers.handleRaw("createSession", ({ request }) =>
        Effect.gen(function*() {
          if (!hostAllowed(settings.hosts, request.headers["host"])) {
            return yield* fail(MisdirectedRequest, "misdirected_request", MISDIRECTED_MESSAGE)
          }
          const body = yield* readJsonBody(request)
          const fields = yield* Either.match(decodeFields(body), {
            onLeft: (error) => invalidRequest(error),
            onRight: Effect.succeed
          })
          const now = yield* Clock.currentTimeMillis
          const token = yield* Effect.promise(() =>
            signDevToken({
              secret: settings.secret,
              sub: fields.user,
              merchantId: fields.merchant,
              email: fields.email,
              ttl: DEV_SESSION_TTL,
              now
            })
          )
          // The token's `exp`, which counts whole seconds from its whole-second `iat`.
          const expiresAt = DateTime.unsafeMake(
            (Math.floor(now / 1000) + Math.floor(Duration.toSeconds(DEV_SESSION_TTL))) * 1000
          )
          const encoded = yield* Effect.orDie(
            encodeSession(new DevSession({ token, expiresAt, demoDays: settings.demoDays }))
          )
          return HttpServerResponse.unsafeJson(encoded, { headers: { "cache-control": "no-store" } })
        }))
  )

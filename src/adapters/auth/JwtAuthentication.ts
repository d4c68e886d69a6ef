// The API's Authentication middleware on JWT bearer tokens. A rejected token is a 401 whose body says what to
// do, not which check failed in detail; the reason goes to the log, the token never does. Keys that cannot be
// fetched are a 503 with a short Retry-After: the token may be fine, and a 401 would sign its user out.
import { Context, Effect, Layer, Redacted } from "effect"
import { fail, ServiceUnavailable, Unauthorized } from "../http/ApiErrors.js"
import { Authentication, BearerAuthentication } from "../http/Authentication.js"
import { JwtVerifier } from "./JwtVerifier.js"

/** Provides `Authentication` and `BearerAuthentication`: one bearer check, on one verifier and its cache. */
export const layer = Layer.effectContext(
  Effect.map(JwtVerifier, (verifier) => {
    const bearer = (token: Redacted.Redacted<string>) =>
      verifier.verify(Redacted.value(token)).pipe(
        Effect.catchTags({
          TokenRejected: (rejected) =>
            Effect.logInfo("bearer token rejected", { reason: rejected.reason }).pipe(
              Effect.zipRight(
                rejected.reason === "expired"
                  ? fail(Unauthorized, "token_expired", "The access token has expired. Sign in again.")
                  : fail(Unauthorized, "unauthorized", "A valid bearer token is required.")
              )
            ),
          KeySetUnavailable: (unavailable) =>
            Effect.logWarning("identity provider's keys unavailable", { reason: unavailable.reason }).pipe(
              Effect.zipRight(
                fail(
                  ServiceUnavailable,
                  "auth_unavailable",
                  "Sign-in cannot be checked right now. Please retry in a few seconds."
                )
              )
            )
        })
      )
    return Context.make(Authentication, Authentication.of({ bearer })).pipe(
      Context.add(BearerAuthentication, BearerAuthentication.of({ bearer }))
    )
  })
)

// The API's Authentication middleware on JWT bearer tokens. A rejected token is a 401 whose body says what to
// do, not which check failed in detail; the reason goes to the log, the token never does.
import { Effect, Layer, Redacted } from "effect"
import { fail, Unauthorized } from "../http/ApiErrors.js"
import { Authentication } from "../http/Authentication.js"
import { JwtVerifier } from "./JwtVerifier.js"

export const AuthenticationJwt = Layer.effect(
  Authentication,
  Effect.map(JwtVerifier, (verifier) =>
    Authentication.of({
      bearer: (token) =>
        verifier.verify(Redacted.value(token)).pipe(
          Effect.catchTag("TokenRejected", (rejected) =>
            Effect.logInfo("bearer token rejected", { reason: rejected.reason }).pipe(
              Effect.zipRight(
                rejected.reason === "expired"
                  ? fail(Unauthorized, "token_expired", "The access token has expired. Sign in again.")
                  : fail(Unauthorized, "unauthorized", "A valid bearer token is required.")
              )
            ))
        )
    }))
)

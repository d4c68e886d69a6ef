// The API's Authentication when API Gateway's JWT authorizer has already verified the token (the Lambda API behind
// an HTTP API): the caller comes from the claims the gateway verified, handed to each request as `GatewayClaims`.
// A request without them did not pass the authorizer and is refused, never trusted.
import { Config, Context, Effect, Layer, Option } from "effect"
import { fail, Unauthorized } from "../http/ApiErrors.js"
import { Authentication, BearerAuthentication } from "../http/Authentication.js"
import type { ClaimNames } from "./JwtVerifier.js"
import { callerFromClaims } from "./JwtVerifier.js"

/** The claims of the token API Gateway's JWT authorizer verified for the current request. */
export class GatewayClaims extends Context.Tag("exports/auth/GatewayClaims")<
  GatewayClaims,
  Readonly<Record<string, unknown>>
>() {}

/** AUTH_MERCHANT_CLAIM (`merchant_id`) and AUTH_EMAIL_CLAIM (`email`), as for verified tokens. */
export const claimNamesConfig: Config.Config<ClaimNames> = Config.all({
  merchantClaim: Config.string("AUTH_MERCHANT_CLAIM").pipe(Config.withDefault("merchant_id")),
  emailClaim: Config.string("AUTH_EMAIL_CLAIM").pipe(Config.withDefault("email"))
})

/** Provides `Authentication` and `BearerAuthentication` from the gateway's claims; the token itself is not read. */
export const AuthenticationFromGateway = Layer.effectContext(
  Effect.map(claimNamesConfig, (names) => {
    const bearer = () =>
      Effect.serviceOption(GatewayClaims).pipe(
        Effect.flatMap(Option.match({
          onNone: () =>
            Effect.logWarning("request without the gateway's verified claims").pipe(
              Effect.zipRight(fail(Unauthorized, "unauthorized", "A valid bearer token is required."))
            ),
          onSome: (claims) =>
            Option.match(callerFromClaims(claims, names), {
              onNone: () =>
                Effect.logInfo("gateway claims do not name a caller", { reason: "claims" }).pipe(
                  Effect.zipRight(fail(Unauthorized, "unauthorized", "A valid bearer token is required."))
                ),
              onSome: Effect.succeed
            })
        }))
      )
    return Context.make(Authentication, Authentication.of({ bearer })).pipe(
      Context.add(BearerAuthentication, BearerAuthentication.of({ bearer }))
    )
  })
)

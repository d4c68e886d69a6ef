// The API's Authentication when API Gateway's JWT authorizer has already verified the token (the Lambda API behind
// an HTTP API): the caller comes from the claims the gateway verified, handed to each request with the API and
// stage its event names. Claims count only from the API and stage the function is set up for (ADR 22): anything
// that may invoke the function can put claims in an event, and another API or trigger wired to it may have no
// authorizer at all. A request without claims, or from elsewhere, is refused, never trusted.
import { Config, Context, Effect, Layer, Option } from "effect"
import { fail, Unauthorized } from "../http/ApiErrors.js"
import { Authentication, BearerAuthentication } from "../http/Authentication.js"
import type { ClaimNames } from "./JwtVerifier.js"
import { callerFromClaims } from "./JwtVerifier.js"

/** What the gateway's event says of the current request; absent fields are `undefined`, as a forged event has them. */
export interface GatewayRequest {
  readonly apiId: string | undefined
  readonly stage: string | undefined
  /** The claims of the token API Gateway's JWT authorizer verified, when the route has one. */
  readonly claims: Readonly<Record<string, unknown>> | undefined
}

export class GatewayRequestContext extends Context.Tag("exports/auth/GatewayRequestContext")<
  GatewayRequestContext,
  GatewayRequest
>() {}

/** AUTH_MERCHANT_CLAIM (`merchant_id`) and AUTH_EMAIL_CLAIM (`email`), as for verified tokens. */
export const claimNamesConfig: Config.Config<ClaimNames> = Config.all({
  merchantClaim: Config.string("AUTH_MERCHANT_CLAIM").pipe(Config.withDefault("merchant_id")),
  emailClaim: Config.string("AUTH_EMAIL_CLAIM").pipe(Config.withDefault("email"))
})

/** Where claims may come from: this HTTP API, and this stage of it when one is named. */
export interface GatewayTrust {
  readonly apiId: string
  readonly stage: Option.Option<string>
  readonly names: ClaimNames
}

/** AUTH_GATEWAY_API_ID (required), AUTH_GATEWAY_STAGE (any stage when unset) and the claim names. */
export const gatewayTrustConfig: Config.Config<GatewayTrust> = Config.all({
  apiId: Config.nonEmptyString("AUTH_GATEWAY_API_ID"),
  stage: Config.option(Config.nonEmptyString("AUTH_GATEWAY_STAGE")),
  names: claimNamesConfig
})

/** An event's own words, fit for a log line: they may come from whoever invoked the function. */
const shown = (value: string | undefined): string => value === undefined ? "(none)" : value.slice(0, 64)

const refuse = fail(Unauthorized, "unauthorized", "A valid bearer token is required.")

/** Provides `Authentication` and `BearerAuthentication` from the gateway's claims; the token itself is not read. */
export const layer = (trust: GatewayTrust) => {
  const fromTrustedGateway = (request: GatewayRequest): boolean =>
    request.apiId === trust.apiId && Option.match(trust.stage, {
      onNone: () => true,
      onSome: (stage) => request.stage === stage
    })

  const bearer = () =>
    Effect.serviceOption(GatewayRequestContext).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.logWarning("request without the gateway's request context").pipe(Effect.zipRight(refuse)),
        onSome: (request) => {
          // Where the event says it came from, never its claims: they are not to be believed.
          if (!fromTrustedGateway(request)) {
            return Effect.logWarning("gateway claims refused: not from the trusted API and stage", {
              apiId: shown(request.apiId),
              stage: shown(request.stage)
            }).pipe(Effect.zipRight(refuse))
          }
          if (request.claims === undefined) {
            return Effect.logWarning("request without the gateway's verified claims").pipe(Effect.zipRight(refuse))
          }
          return Option.match(callerFromClaims(request.claims, trust.names), {
            onNone: () =>
              Effect.logInfo("gateway claims do not name a caller", { reason: "claims" }).pipe(
                Effect.zipRight(refuse)
              ),
            onSome: Effect.succeed
          })
        }
      }))
    )
  return Layer.succeedContext(
    Context.make(Authentication, Authentication.of({ bearer })).pipe(
      Context.add(BearerAuthentication, BearerAuthentication.of({ bearer }))
    )
  )
}

/** `layer` on its settings from `Config`. */
export const layerConfig = Layer.unwrapEffect(Effect.map(gatewayTrustConfig, layer))

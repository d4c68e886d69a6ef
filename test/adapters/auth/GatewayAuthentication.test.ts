// Trusting API Gateway's JWT authorizer: the claims name the caller only when the event comes from the API (and the
// stage, when one is set) the function is set up for; anything else is a 401, logged as a warning without the claims.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Logger, LogLevel, Option, Redacted } from "effect"
import type { GatewayRequest, GatewayTrust } from "../../../src/adapters/auth/GatewayAuthentication.js"
import * as GatewayAuthentication from "../../../src/adapters/auth/GatewayAuthentication.js"
import { GatewayRequestContext, gatewayTrustConfig } from "../../../src/adapters/auth/GatewayAuthentication.js"
import { Unauthorized } from "../../../src/adapters/http/ApiErrors.js"
import { BearerAuthentication } from "../../../src/adapters/http/Authentication.js"
import { makeLogCollector } from "../../support/LogCollector.js"

const names = { merchantClaim: "merchant_id", emailClaim: "email" }
const trust = (stage?: string): GatewayTrust => ({ apiId: "api-1", stage: Option.fromNullable(stage), names })

const claims = { sub: "user-1", merchant_id: "m-acme", email: "user-1@example.test" }
const fromGateway = (request: Partial<GatewayRequest>): GatewayRequest => ({
  apiId: "api-1",
  stage: "$default",
  claims,
  ...request
})

/** The bearer check of `GatewayAuthentication.layer(trust)` for a request whose event said `request`. */
const authenticate = (settings: GatewayTrust, request: GatewayRequest | undefined) =>
  BearerAuthentication.pipe(
    Effect.flatMap((authentication) => authentication.bearer(Redacted.make(""))),
    (check) => request === undefined ? check : Effect.provideService(check, GatewayRequestContext, request),
    Effect.provide(GatewayAuthentication.layer(settings))
  )

describe("gateway trust", () => {
  it.effect("takes the caller from the claims of the trusted API, on the trusted stage or on any when none is set", () =>
    Effect.gen(function*() {
      for (
        const [settings, request] of [
          [trust("$default"), fromGateway({})],
          [trust(), fromGateway({})],
          [trust(), fromGateway({ stage: "prod" })]
        ] as const
      ) {
        const caller = yield* authenticate(settings, request)
        expect(caller.owner.userId).toBe("user-1")
        expect(caller.owner.merchantId).toBe("m-acme")
      }
    }))

  it.effect("refuses claims from another API, another stage, or an event that names neither, and logs no claim", () => {
    const logs = makeLogCollector()
    return Effect.gen(function*() {
      const refused: ReadonlyArray<readonly [GatewayTrust, GatewayRequest | undefined]> = [
        [trust(), fromGateway({ apiId: "api-2" })],
        [trust(), fromGateway({ apiId: "API-1" })],
        [trust(), fromGateway({ apiId: undefined })],
        [trust("$default"), fromGateway({ stage: "prod" })],
        [trust("$default"), fromGateway({ stage: undefined })],
        [trust(), fromGateway({ claims: undefined })],
        [trust(), fromGateway({ claims: {} })],
        [trust(), undefined]
      ]
      for (const [settings, request] of refused) {
        const error = yield* Effect.flip(authenticate(settings, request))
        expect(error).toBeInstanceOf(Unauthorized)
        expect(error.error.code).toBe("unauthorized")
      }
      const warnings = logs.lines.filter((line) => line.level === "WARN")
      expect(warnings.filter((line) => String(line.message[0]).includes("not from the trusted API"))).toHaveLength(5)
      expect(warnings[0]?.message[1]).toStrictEqual({ apiId: "api-2", stage: "$default" })
      const logged = JSON.stringify(logs.lines)
      for (const value of Object.values(claims)) expect(logged).not.toContain(value)
    }).pipe(Effect.provide(logs.replacing), Logger.withMinimumLogLevel(LogLevel.All))
  })

  it.effect("needs AUTH_GATEWAY_API_ID, and reads AUTH_GATEWAY_STAGE when it is set", () =>
    Effect.gen(function*() {
      const read = (settings: Record<string, string>) =>
        gatewayTrustConfig.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(settings)))))
      for (const settings of [{}, { AUTH_GATEWAY_API_ID: "" }]) {
        expect(JSON.stringify(yield* Effect.flip(read(settings)))).toContain("AUTH_GATEWAY_API_ID")
      }
      expect(yield* read({ AUTH_GATEWAY_API_ID: "api-1" })).toMatchObject({ apiId: "api-1", stage: Option.none() })
      expect(yield* read({ AUTH_GATEWAY_API_ID: "api-1", AUTH_GATEWAY_STAGE: "$default" })).toMatchObject({
        stage: Option.some("$default")
      })
    }))
})

// The identity provider's key set out of reach: a token that cannot be checked is a 503 with a short Retry-After
// (clients keep their users signed in), on the HttpApi path and on the accept route alike, within a bounded time
// even when the JWKS endpoint never answers; the API recovers by itself once the keys can be fetched. A token that
// a fetched key set refuses is still a 401.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Logger, LogLevel } from "effect"
import * as Jose from "jose"
import { performance } from "node:perf_hooks"
import { vi } from "vitest"
import { DEFAULT_JWKS_TIMEOUT, jwtSettingsConfig } from "../../../src/adapters/auth/JwtVerifier.js"
import type { JwtSettings } from "../../../src/adapters/auth/JwtVerifier.js"
import { AUTH_UNAVAILABLE_RETRY_AFTER } from "../../../src/adapters/http/ApiErrors.js"
import { apiTestLayer } from "../../support/ApiHarness.js"
import { alice } from "../../support/Fixtures.js"
import { makeLogCollector } from "../../support/LogCollector.js"
import type { LoggedLine } from "../../support/LogCollector.js"
import { JWKS_AUDIENCE, JWKS_ISSUER, makeJwksServer } from "../../support/servers/JwksServer.js"
import { expectError, expectRefused, EXPORTS_PATH, getRaw, ordersBody, postExport } from "./HttpSupport.js"
import type { RawResponse } from "./HttpSupport.js"

/** Short, so that a hanging endpoint costs the test half a second per request. */
const FETCH_TIMEOUT = Duration.millis(500)

const settingsFor = (url: URL): JwtSettings => ({
  keys: { _tag: "Jwks", url, algorithms: ["RS256"], timeout: FETCH_TIMEOUT },
  issuer: JWKS_ISSUER,
  audience: JWKS_AUDIENCE,
  clockSkew: Duration.seconds(30),
  merchantClaim: "merchant_id",
  emailClaim: "email"
})

const user = {
  sub: alice.owner.userId,
  merchantId: alice.owner.merchantId,
  email: "alice@example.test"
}

/** jose keeps a fetched key set this long (its default) before it fetches it again. */
const JOSE_KEY_SET_MAX_AGE = Duration.minutes(10)

const expectAuthUnavailable = (response: RawResponse) => {
  expectError(response, "auth_unavailable")
  expect(response.headers["retry-after"]).toBe(String(Duration.toSeconds(AUTH_UNAVAILABLE_RETRY_AFTER)))
  expect(response.headers["www-authenticate"]).toBeUndefined()
}

/** The reasons the auth adapter logged for key sets it could not fetch, in order. */
const unavailableReasons = (lines: ReadonlyArray<LoggedLine>) =>
  lines.filter((line) => line.message[0] === "identity provider's keys unavailable")
    .map((line) => (line.message[1] as { reason: string }).reason)

describe("HTTP API: the identity provider's keys out of reach", () => {
  it.live("is 503 with Retry-After while the keys cannot be fetched, within a bounded time, and 200 once they can", () => {
    const logs = makeLogCollector()
    return Effect.gen(function*() {
      const jwks = yield* makeJwksServer
      yield* Effect.gen(function*() {
        // Up: the key set is fetched once and the caller served.
        const first = yield* jwks.sign(user)
        expect((yield* getRaw(EXPORTS_PATH, first)).status).toBe(200)
        expect(jwks.fetches()).toBe(1)

        // Down, and jose's copy of the keys too old to use: a token not seen before cannot be checked.
        yield* jwks.stop
        vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true })
        vi.setSystemTime(Date.now() + Duration.toMillis(JOSE_KEY_SET_MAX_AGE) + 60_000)
        const during = yield* jwks.sign(user)
        expectAuthUnavailable(yield* getRaw(EXPORTS_PATH, during))
        expectAuthUnavailable(yield* postExport(during, ordersBody()))
        // A token verified before the outage is remembered until it expires, and needs no key.
        expect((yield* getRaw(EXPORTS_PATH, first)).status).toBe(200)

        // Listening but never answering: the request still ends, at the fetch's timeout.
        jwks.setMode("hanging")
        yield* jwks.start
        const fetchesBefore = jwks.fetches()
        const started = performance.now()
        expectAuthUnavailable(yield* getRaw(EXPORTS_PATH, during))
        const took = performance.now() - started
        expect(jwks.fetches()).toBe(fetchesBefore + 1)
        expect(took).toBeGreaterThanOrEqual(Duration.toMillis(FETCH_TIMEOUT) - 50)
        expect(took).toBeLessThan(Duration.toMillis(FETCH_TIMEOUT) + 8_000)

        // Back up: the same instance fetches the keys again and serves the same token.
        jwks.setMode("serving")
        expect((yield* getRaw(EXPORTS_PATH, during)).status).toBe(200)
        expect((yield* postExport(during, ordersBody())).status).toBe(202)

        expect(unavailableReasons(logs.lines)).toStrictEqual(["unreachable", "unreachable", "timeout"])
      }).pipe(Effect.provide(apiTestLayer(50, { jwt: settingsFor(jwks.url) })))
    }).pipe(
      Effect.scoped,
      Effect.ensuring(Effect.sync(() => vi.useRealTimers())),
      Effect.provide(logs.replacing),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
  })

  it.live("is 503 when the endpoint answers an error or no key set, and 401 for what a fetched key set refuses", () => {
    const logs = makeLogCollector()
    return Effect.gen(function*() {
      const jwks = yield* makeJwksServer
      yield* Effect.gen(function*() {
        const token = yield* jwks.sign(user)
        for (const mode of ["failing", "not-json", "not-a-key-set"] as const) {
          jwks.setMode(mode)
          expectAuthUnavailable(yield* getRaw(EXPORTS_PATH, token))
        }
        expect(unavailableReasons(logs.lines)).toStrictEqual(["bad-response", "bad-response", "bad-response"])

        jwks.setMode("serving")
        expect((yield* getRaw(EXPORTS_PATH, token)).status).toBe(200)
        const { privateKey: otherKey } = yield* Effect.promise(() => Jose.generateKeyPair("RS256"))
        // Signed by another key under the served key's id; and naming a key the set does not hold.
        const forged = yield* jwks.sign({ ...user, signingKey: otherKey })
        const unknownKey = yield* jwks.sign({ ...user, keyId: "rotated-out" })
        for (const refused of [forged, unknownKey]) {
          expectRefused(yield* getRaw(EXPORTS_PATH, refused), "unauthorized")
          expectRefused(yield* postExport(refused, ordersBody()), "unauthorized")
        }
        expect(unavailableReasons(logs.lines)).toHaveLength(3)
      }).pipe(Effect.provide(apiTestLayer(50, { jwt: settingsFor(jwks.url) })))
    }).pipe(Effect.scoped, Effect.provide(logs.replacing), Logger.withMinimumLogLevel(LogLevel.All))
  })
})

describe("the verifier's time settings", () => {
  const read = (settings: Record<string, string>) =>
    jwtSettingsConfig.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(settings)))))
  const jwksUrl = { AUTH_JWKS_URL: "https://id.example.test/.well-known/jwks.json" }

  it.effect("bounds one key set fetch: 3 seconds unless set, and at most 10 seconds", () =>
    Effect.gen(function*() {
      const keysOf = (settings: JwtSettings) => settings.keys._tag === "Jwks" ? settings.keys.timeout : undefined
      expect(keysOf(yield* read(jwksUrl))).toStrictEqual(DEFAULT_JWKS_TIMEOUT)
      expect(Duration.toMillis(DEFAULT_JWKS_TIMEOUT)).toBe(3000)
      expect(keysOf(yield* read({ ...jwksUrl, AUTH_JWKS_TIMEOUT: "800 millis" }))).toStrictEqual(Duration.millis(800))
      for (const refused of ["11 seconds", "0 millis", "soon"]) {
        const error = yield* Effect.flip(read({ ...jwksUrl, AUTH_JWKS_TIMEOUT: refused }))
        expect(JSON.stringify(error)).toContain("AUTH_JWKS_TIMEOUT")
      }
    }))

  it.effect("names AUTH_CLOCK_SKEW when it is more than 5 minutes", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(read({ ...jwksUrl, AUTH_CLOCK_SKEW: "6 minutes" }))
      expect(JSON.stringify(error)).toContain("AUTH_CLOCK_SKEW")
    }))
})

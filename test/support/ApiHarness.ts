// The API served on a test server over the in-memory adapters, with an HS256 verifier and helpers to mint
// tokens and make raw requests.
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Clock, Duration, Effect, Layer, Redacted } from "effect"
import * as JwtAuthentication from "../../src/adapters/auth/JwtAuthentication.js"
import * as JwtVerifier from "../../src/adapters/auth/JwtVerifier.js"
import { DEV_AUDIENCE, DEV_ISSUER, signDevToken } from "../../src/adapters/auth/JwtVerifier.js"
import type { JwtSettings } from "../../src/adapters/auth/JwtVerifier.js"
import { ExportApi } from "../../src/adapters/http/Api.js"
import * as ApiNodeServer from "../../src/adapters/http/ApiNodeServer.js"
import * as ApiServer from "../../src/adapters/http/ApiServer.js"
import { ReadinessChecks } from "../../src/adapters/http/HealthHttp.js"
import type { ExportSettingsShape } from "../../src/application/ExportSettings.js"
import type { Caller } from "../../src/application/RequestExport.js"
import { testLayer } from "./Fixtures.js"

export const TEST_SECRET = Redacted.make("a-test-secret-that-is-long-enough-0123456789")

export const testJwtSettings: JwtSettings = {
  keys: { _tag: "SharedSecret", secret: TEST_SECRET },
  issuer: DEV_ISSUER,
  audience: DEV_AUDIENCE,
  clockSkew: Duration.seconds(30),
  merchantClaim: "merchant_id",
  emailClaim: "email"
}

/**
 * A fresh API over fresh in-memory adapters, per test, served as the runtimes serve it (`ApiNodeServer.layer`): the
 * node:http accept route in front of the HttpApi app, here on a free port with a client for it. HS256 tokens and no
 * readiness checks unless the test brings its own.
 */
export const apiTestLayer = (
  rows = 50,
  options: {
    readonly jwt?: JwtSettings
    readonly readiness?: Layer.Layer<ReadinessChecks>
    readonly settings?: Partial<ExportSettingsShape>
  } = {}
) =>
  ApiServer.layer.pipe(
    Layer.provideMerge(ApiNodeServer.layerServerTest),
    Layer.provide(JwtAuthentication.layer),
    Layer.provide(JwtVerifier.layer(options.jwt ?? testJwtSettings)),
    Layer.provide(options.readiness ?? ReadinessChecks.none),
    Layer.provideMerge(testLayer(rows, options.settings))
  )

export const tokenFor = (
  caller: Caller,
  options: { ttl?: Duration.Duration; secret?: Redacted.Redacted<string> } = {}
) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.promise(() =>
      signDevToken({
        secret: options.secret ?? TEST_SECRET,
        sub: caller.owner.userId,
        merchantId: caller.owner.merchantId,
        email: Redacted.value(caller.email),
        ttl: options.ttl ?? Duration.hours(1),
        now
      })
    ))

/** The typed client, authenticated as `caller`. */
export const clientFor = (caller: Caller) =>
  Effect.gen(function*() {
    const token = yield* tokenFor(caller)
    return yield* HttpApiClient.make(ExportApi, {
      transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
    })
  })

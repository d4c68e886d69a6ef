// The API's security requirement: a bearer token that names the caller. Declared with the API; the auth
// adapter (JWT) implements it, so the API can be served behind any identity provider. A token that cannot be
// checked right now (the identity provider's keys are out of reach) is a 503, not a 401: a 401 tells clients to
// sign their users out.
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import type { Effect, Redacted } from "effect"
import { Context, Schema } from "effect"
import type { Caller } from "../../application/RequestExport.js"
import { ServiceUnavailable, Unauthorized } from "./ApiErrors.js"

/** The authenticated caller of the current request. */
export class CurrentCaller extends Context.Tag("exports/http/CurrentCaller")<CurrentCaller, Caller>() {}

export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("exports/http/Authentication", {
  failure: Schema.Union(Unauthorized, ServiceUnavailable),
  provides: CurrentCaller,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/**
 * The same bearer check as `Authentication`, needing nothing but the token: the node:http accept route
 * (ADR 0013) has no platform request to offer. An auth adapter provides both from one implementation.
 */
export class BearerAuthentication extends Context.Tag("exports/http/BearerAuthentication")<BearerAuthentication, {
  readonly bearer: (token: Redacted.Redacted<string>) => Effect.Effect<Caller, Unauthorized | ServiceUnavailable>
}>() {}

// The API's security requirement: a bearer token that names the caller. Declared with the API; the auth
// adapter (JWT) implements it, so the API can be served behind any identity provider.
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Context } from "effect"
import type { Caller } from "../../application/RequestExport.js"
import { Unauthorized } from "./ApiErrors.js"

/** The authenticated caller of the current request. */
export class CurrentCaller extends Context.Tag("exports/http/CurrentCaller")<CurrentCaller, Caller>() {}

export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("exports/http/Authentication", {
  failure: Unauthorized,
  provides: CurrentCaller,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

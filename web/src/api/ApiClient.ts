// The one API client of the app, derived from the server's own HttpApi declaration (ADR 38): paths, bodies,
// answers and errors come from `src/adapters/http/Api.ts`, and the development sign-in from `DevSessionApi.ts`
// (`EmbeddedApi` is the API plus that route, which other runtimes answer 404); none is written here. Every call
// carries the session's token, asks for JSON (the download route answers `{ url }` rather than a redirect), and
// polls conditionally.
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Exit, Layer } from "effect"
import { EmbeddedApi } from "../../../src/adapters/http/DevSessionApi.ts"
import { session, signOut } from "../auth/Session.ts"
import { ApiProblem, problemOf } from "./ApiProblem.ts"
import { conditionalFetch } from "./ConditionalFetch.ts"

const authorized = (request: HttpClientRequest.HttpClientRequest) => {
  const token = session.get().current?.token
  const json = HttpClientRequest.acceptJson(request)
  return token === undefined ? json : HttpClientRequest.bearerToken(json, token)
}

const client = Effect.runSync(
  HttpApiClient.make(EmbeddedApi, { transformClient: HttpClient.mapRequest(authorized) }).pipe(
    Effect.provide(
      FetchHttpClient.layer.pipe(Layer.provide(Layer.succeed(FetchHttpClient.Fetch, conditionalFetch(fetch))))
    )
  )
)

export type ApiClient = typeof client

/** Codes that mean the token is no good any more: the person signs in again. */
const SIGNED_OUT = new Set(["unauthorized", "token_expired"])

/**
 * Runs one call of the typed client. Fails with an `ApiProblem` whose message can be shown as is; a 401 also ends
 * the session. `signal` interrupts the call (and aborts its request).
 */
export const callApi = async <A, E>(
  call: (api: ApiClient) => Effect.Effect<A, E>,
  signal?: AbortSignal
): Promise<A> => {
  const exit = await Effect.runPromiseExit(call(client), signal === undefined ? undefined : { signal })
  if (Exit.isSuccess(exit)) return exit.value
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new ApiProblem("The request was stopped.", "interrupted")
  const problem = problemOf(failure)
  if (problem.code !== undefined && SIGNED_OUT.has(problem.code)) signOut(problem.message)
  throw problem
}

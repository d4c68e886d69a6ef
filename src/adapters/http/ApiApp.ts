// The API as an application any server or Lambda serves: handlers, the OpenAPI document, and the middleware every
// request passes through (request id, one error shape for what the platform answers itself, access log). The
// /docs page is the Node servers' only (ApiServer.ts, ADR 42): it would make a Lambda bundle three times the size.
import { HttpApi, HttpApiBuilder, HttpApp, HttpServerRequest, HttpServerResponse, OpenApi } from "@effect/platform"
import { Cause, Clock, Effect, Layer, Option, Predicate } from "effect"
import { ExportApi } from "./Api.js"
import {
  asksToWait,
  currentRequestId,
  DEFAULT_RETRY_AFTER,
  errorResponse,
  retryAfterHeader,
  retryAfterOf
} from "./ApiErrors.js"
import * as EventsHttp from "./EventsHttp.js"
import * as ExportsHttp from "./ExportsHttp.js"
import * as HealthHttp from "./HealthHttp.js"
import * as NotificationsHttp from "./NotificationsHttp.js"
import * as ReportsHttp from "./ReportsHttp.js"

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/

/** The client's `x-request-id` when it is a sensible one, otherwise a fresh id. */
export const requestIdOf = (incoming: string | undefined): string =>
  incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : globalThis.crypto.randomUUID()

/** The platform reads any 7 characters as the scheme; only "Bearer" is one we accept. */
export const hasOtherScheme = (authorization: string | undefined): boolean =>
  authorization !== undefined && !/^Bearer /i.test(authorization)

export const OTHER_SCHEME_MESSAGE = "Use the Bearer scheme: Authorization: Bearer <token>."

export const INTERNAL_ERROR_MESSAGE = "Something went wrong on our side."

/** Headers every response gets besides its own, whoever wrote its body. */
export const finishingHeaders = (
  requestId: string,
  status: number,
  headers: Readonly<Record<string, string | undefined>>
): Record<string, string> => {
  const extra: Record<string, string> = { "x-request-id": requestId }
  if (status === 401 && headers["www-authenticate"] === undefined) {
    extra["www-authenticate"] = "Bearer realm=\"async-data-export\", error=\"invalid_token\""
  }
  if (status === 503 && headers["retry-after"] === undefined) {
    extra["retry-after"] = retryAfterHeader(DEFAULT_RETRY_AFTER)
  }
  return extra
}

/**
 * The access log line of a request, at info level. Nothing of it is built when info is below the minimum level: its
 * annotation alone costs every request an allocation a server logging warnings only would collect unread (ADR 54).
 */
export const accessLog = (method: string, url: string, status: number, started: number, requestId: string) =>
  Effect.asVoid(Effect.whenLogLevel(
    Effect.flatMap(
      Clock.currentTimeMillis,
      (finished) =>
        Effect.logInfo("http", { method, path: url.split("?")[0], status, ms: finished - started }).pipe(
          Effect.annotateLogs({ requestId })
        )
    ),
    "Info"
  ))

/** Headers every response gets, whoever wrote its body (a handler, the API's error encoder, a route). */
const finishResponse =
  (requestId: string, started: number) =>
  (request: HttpServerRequest.HttpServerRequest, response: HttpServerResponse.HttpServerResponse) =>
    Effect.as(
      accessLog(request.method, request.url, response.status, started, requestId),
      HttpServerResponse.setHeaders(response, finishingHeaders(requestId, response.status, response.headers))
    )

/**
 * Wraps every route of the API's router. Typed API errors pass through to the API's encoder; what the platform
 * would otherwise answer in its own way (no route, a parameter it could not decode, a defect) gets our shape.
 */
export const apiMiddleware = (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const started = yield* Clock.currentTimeMillis
    const requestId = requestIdOf(request.headers["x-request-id"])
    yield* HttpApp.appendPreResponseHandler(finishResponse(requestId, started))

    if (hasOtherScheme(request.headers["authorization"])) {
      return errorResponse(401, "unauthorized", OTHER_SCHEME_MESSAGE, requestId)
    }

    return yield* app.pipe(
      Effect.locally(currentRequestId, requestId),
      Effect.catchAllCause((cause) => {
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
        // These failures are not in HttpApp's signature, but the router and the API's decoder raise them.
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure)) {
          if (Predicate.isTagged(failure.value, "RouteNotFound")) {
            const path = request.url.split("?")[0]
            return Effect.succeed(errorResponse(404, "not_found", `No route for ${request.method} ${path}.`, requestId))
          }
          if (Predicate.isTagged(failure.value, "HttpApiDecodeError")) {
            return Effect.succeed(
              errorResponse(400, "invalid_request", "The request's path or query is not valid.", requestId)
            )
          }
          // The API's encoder writes the body; the wait it asks of the client depends on the error, not the status.
          const error: unknown = failure.value
          if (asksToWait(error)) {
            const retryAfter = retryAfterHeader(retryAfterOf(error))
            return Effect.zipRight(
              HttpApp.appendPreResponseHandler((_, response) =>
                Effect.succeed(HttpServerResponse.setHeader(response, "retry-after", retryAfter))
              ),
              Effect.failCause(cause)
            )
          }
          return Effect.failCause(cause)
        }
        return Effect.logError("request failed unexpectedly", cause).pipe(
          Effect.as(errorResponse(500, "internal_error", INTERNAL_ERROR_MESSAGE, requestId))
        )
      })
    )
  })

/** Every group's handlers but the development sign-in's. */
export const groupHandlers = Layer.mergeAll(
  ExportsHttp.layer,
  ReportsHttp.layer,
  NotificationsHttp.layer,
  HealthHttp.layer,
  EventsHttp.layer
)

/** The API's handlers. They need the application's ports and an Authentication implementation. */
export const layerHandlers = HttpApiBuilder.api(ExportApi).pipe(Layer.provide(groupHandlers))

/**
 * /openapi.json, describing whichever API the app serves, made when first asked for and kept. The platform's own
 * (`HttpApiBuilder.middlewareOpenApi`) makes it while the app is built, which on Lambda is every cold start's first
 * request, whatever that request asks (ADR 47): walking every endpoint's schemas into JSON Schema.
 */
export const layerOpenApi = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    const { api } = yield* HttpApi.Api
    const document = yield* Effect.cached(Effect.sync(() => HttpServerResponse.unsafeJson(OpenApi.fromApi(api))))
    yield* router.get("/openapi.json", document)
  })
)

/** The request middleware and /openapi.json. */
export const layerMiddlewareAndOpenApi = Layer.mergeAll(HttpApiBuilder.middleware(apiMiddleware), layerOpenApi)

/** The API's app without the /docs page: its endpoints, /openapi.json and its request middleware. */
export const layerApp = layerMiddlewareAndOpenApi.pipe(Layer.provideMerge(layerHandlers))

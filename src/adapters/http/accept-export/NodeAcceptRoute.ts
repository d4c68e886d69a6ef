// POST /api/v1/reports/export served by a plain node:http handler in front of the HttpApi app (ADR 0013): the
// HttpApi stack alone costs more per request than accepting an export may. The endpoint stays declared in the
// HttpApi (OpenAPI document, typed client) and only the transport differs: authentication, the body rules, the
// accepting program (`AcceptExport.ts`), the error statuses the endpoint declares and the access log are the very
// ones the HttpApi path uses, on the same services, through the runtime of the layer that serves the API.
import type { Headers, HttpApiGroup } from "@effect/platform"
import { HttpApiSchema, HttpTraceContext } from "@effect/platform"
import { Cause, Context, Effect, FiberId, FiberRef, FiberRefs, Option, Redacted, Runtime, Schema, Tracer } from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import { CurrentCatalogue } from "../../../application/CurrentCatalogue.js"
import { ExportSettings } from "../../../application/ExportSettings.js"
import { JobIds } from "../../../application/JobIds.js"
import { JobQueue } from "../../../application/ports/JobQueue.js"
import { JobStore } from "../../../application/ports/JobStore.js"
import { ExportApi } from "../Api.js"
import {
  accessLog,
  finishingHeaders,
  hasOtherScheme,
  INTERNAL_ERROR_MESSAGE,
  OTHER_SCHEME_MESSAGE,
  requestIdOf
} from "../ApiApp.js"
import { asksToWait, currentRequestId, fail, retryAfterHeader, retryAfterOf, Unauthorized } from "../ApiErrors.js"
import { BearerAuthentication } from "../Authentication.js"
import { readNodeJsonBody } from "../RequestBody.js"
import { acceptExport } from "./AcceptExport.js"
import type { FrontRoute } from "./FrontRoute.js"

const PATH = "/api/v1/reports/export"
const BEARER_LENGTH = "Bearer ".length

/** node:http joins a repeated header into one string (set-cookie aside), as the platform's request shows it. */
const header = (request: IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name]
  return Array.isArray(value) ? value.join(", ") : value
}

interface Answer {
  readonly status: number
  readonly body: unknown
  readonly headers: Readonly<Record<string, string>>
}

/** The HttpApi declaration of the endpoint this route answers, with its group: its errors and their statuses. */
const declared = (() => {
  const group = ExportApi.groups["exports"] as HttpApiGroup.HttpApiGroup.AnyWithProps | undefined
  const endpoint = group?.endpoints["requestExport"]
  if (group === undefined || endpoint === undefined) throw new Error("ExportApi declares no exports.requestExport")
  return { group, endpoint }
})()

/**
 * Every error the endpoint declares, its group's and its security's included, with the status and the encoding the
 * HttpApi app answers it with: the app's own error schema, gathered the way the platform gathers it.
 */
const declaredErrors = (() => {
  const schemas = new Set<Schema.Schema.Any>()
  HttpApiSchema.deunionize(schemas, declared.endpoint.errorSchema)
  HttpApiSchema.deunionize(schemas, declared.group.errorSchema)
  return Array.from(schemas, (schema) => ({
    is: Schema.is(schema),
    status: HttpApiSchema.getStatusError(schema),
    encode: Schema.encodeSync(schema as Schema.Schema<unknown, unknown>)
  }))
})()

/**
 * A declared error as the HttpApi answers it; a 503 or 429 also says how long to wait, which depends on its error.
 * Undefined for an error the endpoint does not declare, which the types rule out: answered as a defect.
 */
const answerFor = (error: Effect.Effect.Error<ReturnType<typeof accept>>): Answer | undefined => {
  const declaredError = declaredErrors.find(({ is }) => is(error))
  if (declaredError === undefined) return undefined
  const headers = asksToWait(error) ? { "retry-after": retryAfterHeader(retryAfterOf(error)) } : {}
  return { status: declaredError.status, body: declaredError.encode(error), headers }
}

/** What the HttpApi path does for this endpoint, from the Bearer-scheme check of the middleware to the 202. */
const accept = (request: IncomingMessage) => {
  const authorization = header(request, "authorization")
  if (hasOtherScheme(authorization)) return fail(Unauthorized, "unauthorized", OTHER_SCHEME_MESSAGE)
  return BearerAuthentication.pipe(
    Effect.flatMap((authentication) =>
      authentication.bearer(Redacted.make((authorization ?? "").slice(BEARER_LENGTH)))
    ),
    Effect.flatMap((caller) =>
      Effect.flatMap(
        readNodeJsonBody(request),
        (body) => acceptExport(caller, body, header(request, "idempotency-key"))
      )
    ),
    Effect.map((accepted): Answer => ({ status: 202, body: accepted.body, headers: { location: accepted.location } }))
  )
}

const write = (response: ServerResponse, requestId: string, answer: Answer): void => {
  const text = JSON.stringify(answer.body)
  response.writeHead(answer.status, {
    ...answer.headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...finishingHeaders(requestId, answer.status, answer.headers)
  })
  response.end(text)
}

/** The request from the Bearer check to its answer, the access log written and the response sent. */
const handle = (request: IncomingMessage, response: ServerResponse, requestId: string) =>
  Effect.clockWith((clock) => {
    const started = clock.unsafeCurrentTimeMillis()
    return Effect.suspend(() => accept(request)).pipe(
      // A declared error, a defect and an interruption told apart in one step.
      Effect.catchAllCause((cause): Effect.Effect<Answer> => {
        const failure = Cause.failureOption(cause)
        const answer = Option.isSome(failure) ? answerFor(failure.value) : undefined
        if (answer !== undefined) return Effect.succeed(answer)
        return Cause.isInterruptedOnly(cause) ?
          Effect.failCause(Cause.stripFailures(cause)) :
          Effect.logError("request failed unexpectedly", cause).pipe(
            Effect.as({ status: 500, body: internalError(requestId), headers: {} })
          )
      }),
      Effect.flatMap((answer) =>
        Effect.map(accessLog("POST", request.url ?? PATH, answer.status, started, requestId), () => {
          write(response, requestId, answer)
          return answer.status
        })
      )
    )
  })

const serve = (request: IncomingMessage, response: ServerResponse, requestId: string) =>
  Effect.useSpan("http.server POST", {
    parent: Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers as unknown as Headers.Headers)),
    kind: "server",
    captureStackTrace: false
  }, (span) => {
    span.attribute("http.request.method", "POST")
    span.attribute("url.path", PATH)
    // The fiber serves this one request, so the span is the parent of every span after it for the rest of the fiber
    // (as `Effect.withParentSpan` would make it), without the bookkeeping that restores the context afterwards.
    return Effect.zipRight(
      FiberRef.update(FiberRef.currentContext, Context.add(Tracer.ParentSpan, span)),
      Effect.tap(handle(request, response, requestId), (status) => span.attribute("http.response.status_code", status))
    )
  })

const internalError = (requestId: string) => ({
  error: { code: "internal_error", message: INTERNAL_ERROR_MESSAGE },
  requestId
})

/**
 * The route, ready for `FrontRoute.layer`: claims POST /api/v1/reports/export (with or without a query) and passes
 * every other request on. Each claimed request runs as a fiber of the layer's runtime, interrupted if the client
 * goes away before its answer, as the platform does.
 */
export const NodeAcceptRoute = Effect.map(
  Effect.gen(function*() {
    // The layer's runtime with only the services the program uses: every span and service a request adds copies its
    // fiber's Context, which is the whole composition's otherwise (25 services in the embedded server's, ADR 54).
    // Listed by their tags, so that one the program needs and this leaves out is a type error. The catalogue is a
    // Reference, kept as the layer has it: a composition may give another.
    const { fiberRefs, runtimeFlags } = yield* Effect.runtime<never>()
    const context = Context.make(BearerAuthentication, yield* BearerAuthentication).pipe(
      Context.add(JobStore, yield* JobStore),
      Context.add(JobQueue, yield* JobQueue),
      Context.add(JobIds, yield* JobIds),
      Context.add(ExportSettings, yield* ExportSettings),
      Context.add(CurrentCatalogue, yield* CurrentCatalogue)
    )
    return Runtime.make({ context, fiberRefs, runtimeFlags })
  }),
  (runtime): FrontRoute => {
    const runFork = Runtime.runFork(runtime)
    return (request, response) => {
      const url = request.url ?? ""
      if (request.method !== "POST" || (url !== PATH && !url.startsWith(`${PATH}?`))) return false
      const requestId = requestIdOf(header(request, "x-request-id"))
      // The fiber serves this one request, so it starts with the request's id set rather than setting it first.
      const fiber = runFork(serve(request, response, requestId), {
        updateRefs: (refs, fiberId) =>
          FiberRefs.updateAs(refs, { fiberId, fiberRef: currentRequestId, value: requestId })
      })
      response.on("close", () => {
        if (!response.writableEnded) fiber.unsafeInterruptAsFork(FiberId.none)
      })
      return true
    }
  }
)

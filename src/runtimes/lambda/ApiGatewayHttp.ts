// API Gateway HTTP API events (payload format 2.0) to the HttpServerRequest an HttpApp serves, and its
// HttpServerResponse back, without the web Request and Response between them: Node's `Request`, `Headers` and
// `Response` are undici, which Node loads on their first use (about 20 ms of a cold start, ADR 55) and which a startup
// snapshot cannot hold (ADR 52). The translation gives what the platform's web handler (`HttpApiBuilder.toWebHandler`
// on a `new Request`) gave: the URL, method, headers, cookies and body the app read, and the status, headers, cookies
// and bytes API Gateway was handed back. Nothing here knows the API: the same translation would serve any HttpApp.
import type { FileSystem, HttpApi, HttpMethod, HttpRouter, Path, Socket } from "@effect/platform"
import {
  Cookies,
  Headers,
  HttpApiBuilder,
  HttpApp,
  HttpIncomingMessage,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse,
  Multipart,
  UrlParams
} from "@effect/platform"
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2
} from "aws-lambda"
import { Chunk, Context, Effect, Exit, Inspectable, Layer, Option, Runtime, Scope, Stream } from "effect"

/** The JWT claims API Gateway's JWT authorizer verified, when the route has one. */
export const authorizerClaimsOf = (
  event: APIGatewayProxyEventV2 | APIGatewayProxyEventV2WithJWTAuthorizer
): Readonly<Record<string, string | number | boolean | ReadonlyArray<string>>> | undefined =>
  "authorizer" in event.requestContext ? event.requestContext.authorizer?.jwt?.claims : undefined

/**
 * What the event says of where it came from: the HTTP API's id and stage, and the authorizer's claims. Typed as
 * API Gateway sends them, but read as anyone may invoke the function with: a field may be missing or not a string.
 */
export const gatewayRequestOf = (
  event: APIGatewayProxyEventV2 | APIGatewayProxyEventV2WithJWTAuthorizer
): {
  readonly apiId: string | undefined
  readonly stage: string | undefined
  readonly claims: Readonly<Record<string, unknown>> | undefined
} => {
  const context = event.requestContext as Partial<APIGatewayProxyEventV2["requestContext"]> | undefined
  const text = (value: unknown) => typeof value === "string" ? value : undefined
  return {
    apiId: text(context?.apiId),
    stage: text(context?.stage),
    claims: context === undefined ? undefined : authorizerClaimsOf(event)
  }
}

/** `/exports/` and `exports` both become `/exports`; `/` and `` become ``. */
export const normaliseBasePath = (basePath: string): string => {
  const trimmed = basePath.trim().replace(/^\/+|\/+$/g, "")
  return trimmed === "" ? "" : `/${trimmed}`
}

const withoutPrefix = (path: string, prefix: string): string | undefined => {
  if (prefix === "") return path
  if (path === prefix) return "/"
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : undefined
}

/**
 * The path the API knows. `rawPath` keeps what API Gateway matched on the way in: a named stage's segment
 * (`/prod/...`, absent for `$default`) and a custom domain's API mapping (`/exports/...` when the domain maps
 * `exports` to this API), which `basePath` names. A path outside the base path is left as it is, so it ends in
 * the API's 404 rather than in some other route.
 */
export const apiPathOf = (event: APIGatewayProxyEventV2, basePath: string): string => {
  const stage = event.requestContext.stage
  const afterStage = stage === "$default" || stage === ""
    ? event.rawPath
    : withoutPrefix(event.rawPath, `/${stage}`) ?? event.rawPath
  return withoutPrefix(afterStage, normaliseBasePath(basePath)) ?? afterStage
}

const BODYLESS = new Set(["GET", "HEAD"])

// What the fetch standard strips from both ends of a header's value (the web `Headers` did it).
const HTTP_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g

const headerValue = (value: string) => value.replace(HTTP_WHITESPACE, "")

/** The web `Headers` listed its names in lower case and in order; an app that lists them sees that order. */
const sortedByName = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const sorted: Record<string, string> = {}
  for (const name of Object.keys(headers).sort()) sorted[name] = headers[name]!
  return sorted
}

// The web `Request.text()` decoded the body as UTF-8 and dropped a byte order mark; TextDecoder does both.
const utf8 = new TextDecoder()

/**
 * An event's request as the HttpApp reads it. Its body is the event's, whole: API Gateway hands a function the
 * request already read (at most its 10 MB), so the stream is one chunk and the text is decoded once.
 */
class GatewayServerRequest extends Inspectable.Class implements HttpServerRequest.HttpServerRequest {
  readonly [HttpServerRequest.TypeId]: HttpServerRequest.TypeId = HttpServerRequest.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId

  constructor(
    readonly source: APIGatewayProxyEventV2,
    readonly originalUrl: string,
    readonly url: string,
    readonly method: HttpMethod.HttpMethod,
    readonly headers: Headers.Headers,
    private readonly bytes: Uint8Array | undefined,
    readonly remoteAddress: Option.Option<string>
  ) {
    super()
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpServerRequest",
      method: this.method,
      url: this.originalUrl
    })
  }

  modify(options: {
    readonly url?: string | undefined
    readonly headers?: Headers.Headers | undefined
    readonly remoteAddress?: string | undefined
  }): HttpServerRequest.HttpServerRequest {
    return new GatewayServerRequest(
      this.source,
      this.originalUrl,
      options.url ?? this.url,
      this.method,
      options.headers ?? this.headers,
      this.bytes,
      options.remoteAddress === undefined ? this.remoteAddress : Option.some(options.remoteAddress)
    )
  }

  private parsedCookies: Readonly<Record<string, string>> | undefined
  get cookies(): Readonly<Record<string, string>> {
    return this.parsedCookies ??= Cookies.parseHeader(this.headers["cookie"] ?? "")
  }

  private decodeError(cause: unknown, description?: string) {
    return new HttpServerError.RequestError({
      request: this,
      reason: "Decode",
      cause,
      ...(description === undefined ? {} : { description })
    })
  }

  get stream(): Stream.Stream<Uint8Array, HttpServerError.RequestError> {
    return this.bytes === undefined
      ? Stream.fail(this.decodeError(undefined, "can not create stream from empty body"))
      : Stream.succeed(this.bytes)
  }

  private decodedText: string | undefined
  get text(): Effect.Effect<string, HttpServerError.RequestError> {
    return Effect.sync(() => this.decodedText ??= this.bytes === undefined ? "" : utf8.decode(this.bytes))
  }

  get json(): Effect.Effect<unknown, HttpServerError.RequestError> {
    return Effect.tryMap(this.text, { try: (text) => JSON.parse(text) as unknown, catch: (c) => this.decodeError(c) })
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpServerError.RequestError> {
    return Effect.tryMap(this.text, {
      try: (text) => UrlParams.fromInput(new URLSearchParams(text)),
      catch: (cause) => this.decodeError(cause)
    })
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpServerError.RequestError> {
    return Effect.sync(() => {
      const copy = new ArrayBuffer(this.bytes?.byteLength ?? 0)
      if (this.bytes !== undefined) new Uint8Array(copy).set(this.bytes)
      return copy
    })
  }

  private persisted:
    | Effect.Effect<Multipart.Persisted, Multipart.MultipartError, Scope.Scope | FileSystem.FileSystem | Path.Path>
    | undefined
  get multipart(): Effect.Effect<
    Multipart.Persisted,
    Multipart.MultipartError,
    Scope.Scope | FileSystem.FileSystem | Path.Path
  > {
    return this.persisted ??= Effect.runSync(Effect.cached(Multipart.toPersisted(this.multipartStream)))
  }

  get multipartStream(): Stream.Stream<Multipart.Part, Multipart.MultipartError> {
    return Stream.pipeThroughChannel(
      Stream.mapError(this.stream, (cause) => new Multipart.MultipartError({ reason: "InternalError", cause })),
      Multipart.makeChannel(this.headers)
    )
  }

  get upgrade(): Effect.Effect<Socket.Socket, HttpServerError.RequestError> {
    return Effect.fail(this.decodeError(undefined, "Not an upgradeable ServerRequest"))
  }
}

/**
 * The event as the request the API serves: its path without the stage and `basePath`, the query as sent, the
 * headers with the cookies API Gateway moved into their own list, and the body decoded (none with a GET or HEAD).
 * The URL is parsed as the web `Request` parsed it (dot segments resolved, what must be percent-encoded encoded),
 * and, as there, a host no URL can have is an error.
 */
export const serverRequestOf = (
  event: APIGatewayProxyEventV2,
  basePath: string
): HttpServerRequest.HttpServerRequest => {
  const given: Record<string, string> = {}
  for (const [name, value] of Object.entries(event.headers)) {
    if (value !== undefined) given[name.toLowerCase()] = headerValue(value)
  }
  // Payload 2.0 moves cookies out of the headers into their own list.
  if (event.cookies !== undefined && event.cookies.length > 0) given["cookie"] = event.cookies.join("; ")
  const headers = sortedByName(given)
  const method = event.requestContext.http.method.toUpperCase() as HttpMethod.HttpMethod
  const host = headers["host"] ?? event.requestContext.domainName
  const query = event.rawQueryString === "" ? "" : `?${event.rawQueryString}`
  const url = new URL(`https://${host}${apiPathOf(event, basePath)}${query}`)
  const bytes = event.body === undefined || BODYLESS.has(method)
    ? undefined
    : Buffer.from(event.body, event.isBase64Encoded ? "base64" : "utf8")
  return new GatewayServerRequest(
    event,
    url.href,
    `${url.pathname}${url.search}`,
    method,
    Headers.unsafeFromRecord(headers),
    bytes,
    Option.none()
  )
}

const TEXTUAL = /^(text\/|application\/(json|problem\+json|xml|javascript|x-www-form-urlencoded)|image\/svg\+xml)/i

/** The answer API Gateway takes: JSON and text as text, anything else base64, and Set-Cookie as the cookies list. */
const gatewayResult = (
  status: number,
  headers: Readonly<Record<string, string>>,
  cookies: ReadonlyArray<string>,
  bytes: Uint8Array
): APIGatewayProxyStructuredResultV2 => {
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const textual = TEXTUAL.test(headers["content-type"] ?? "text/plain")
  return {
    statusCode: status,
    headers,
    ...(cookies.length > 0 ? { cookies: [...cookies] } : {}),
    body: textual ? body.toString("utf8") : body.toString("base64"),
    isBase64Encoded: !textual
  }
}

/** A web Response's answer: for the bodies only the web Response reads (FormData, web and Node streams, Blobs). */
export const webResultOf = async (response: Response): Promise<APIGatewayProxyStructuredResultV2> => {
  const headers: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value
  })
  return gatewayResult(
    response.status,
    headers,
    response.headers.getSetCookie(),
    new Uint8Array(await response.arrayBuffer())
  )
}

const NO_BYTES = new Uint8Array(0)

/**
 * The bytes of a body the web Response would have taken as they are (and the content type it would have given a
 * string), the stream of a streamed body, to be read to its end, or undefined for a body only the web Response reads.
 */
const plainBodyOf = (
  body: HttpServerResponse.HttpServerResponse["body"]
):
  | { readonly bytes: Uint8Array; readonly contentType?: string }
  | { readonly stream: Stream.Stream<Uint8Array, unknown> }
  | undefined =>
{
  switch (body._tag) {
    case "Empty":
      return { bytes: NO_BYTES }
    case "Uint8Array":
      return { bytes: body.body }
    case "Stream":
      return { stream: body.stream }
    case "Raw": {
      const raw = body.body
      if (typeof raw === "string") return { bytes: Buffer.from(raw, "utf8"), contentType: "text/plain;charset=UTF-8" }
      if (raw instanceof Uint8Array) return { bytes: raw }
      if (raw instanceof ArrayBuffer) return { bytes: new Uint8Array(raw) }
      if (raw === null || raw === undefined) return { bytes: NO_BYTES }
      return undefined
    }
    case "FormData":
      return undefined
  }
}

/**
 * The response as API Gateway takes it. Headers as the web `Headers` gave them (names in lower case and in order,
 * values trimmed, a name set twice joined with a comma), the response's cookies after any Set-Cookie header, no body
 * for a HEAD, a stream read to its end on `runtime`.
 */
export const resultOf = async (
  response: HttpServerResponse.HttpServerResponse,
  method: string,
  runtime: Runtime.Runtime<never> = Runtime.defaultRuntime
): Promise<APIGatewayProxyStructuredResultV2> => {
  const withoutBody = method === "HEAD"
  const plain = withoutBody ? { bytes: NO_BYTES } : plainBodyOf(response.body)
  if (plain === undefined) return webResultOf(HttpServerResponse.toWeb(response, { withoutBody, runtime }))
  const named: Record<string, string> = {}
  const cookies: Array<string> = []
  for (const [name, value] of Object.entries(response.headers)) {
    const key = name.toLowerCase()
    const trimmed = headerValue(value)
    if (key === "set-cookie") cookies.push(trimmed)
    else named[key] = named[key] === undefined ? trimmed : `${named[key]}, ${trimmed}`
  }
  if (!Cookies.isEmpty(response.cookies)) cookies.push(...Cookies.toSetCookieHeaders(response.cookies))
  if ("bytes" in plain && plain.contentType !== undefined && named["content-type"] === undefined) {
    named["content-type"] = plain.contentType
  }
  const headers = sortedByName(named)
  const bytes = "stream" in plain
    ? Buffer.concat(Chunk.toArray(await Runtime.runPromise(runtime, Stream.runCollect(plain.stream))))
    : plain.bytes
  return gatewayResult(response.status, headers, cookies, bytes)
}

export type GatewayHandler = (
  event: APIGatewayProxyEventV2,
  basePath: string,
  context?: Context.Context<never>
) => Promise<APIGatewayProxyStructuredResultV2>

/**
 * The HttpApi app `layer` serves, as a handler of API Gateway's events: what `HttpApiBuilder.toWebHandler` does for
 * a web Request (the app built on the first event and kept; each request's own fiber, with `context` added to the
 * layer's; the platform's error handling and pre-response handlers), on the event's own request. A stream's scope
 * is closed once it has been read, as the web handler did.
 */
export const toGatewayHandler = <LA, LE>(
  layer: Layer.Layer<LA | HttpApi.Api | HttpRouter.HttpRouter.DefaultServices, LE>
): { readonly handler: GatewayHandler; readonly dispose: () => Promise<void> } => {
  const scope = Effect.runSync(Scope.make())
  const made = Effect.gen(function*() {
    const runtime = yield* Layer.toRuntime(
      Layer.mergeAll(layer, HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer)
    )
    const app = yield* Effect.provide(HttpApiBuilder.httpApp, runtime)
    return { runtime, app }
  })
  let app: Promise<Effect.Effect.Success<typeof made>> | undefined
  const handler: GatewayHandler = async (event, basePath, context) => {
    const request = serverRequestOf(event, basePath)
    const { app: httpApp, runtime } = await (app ??= Effect.runPromise(Scope.extend(made, scope)))
    const requestRuntime = Runtime.make({
      context: Context.add(
        Context.isContext(context) ? Context.merge(runtime.context, context) : runtime.context,
        HttpServerRequest.HttpServerRequest,
        request
      ),
      fiberRefs: runtime.fiberRefs,
      runtimeFlags: runtime.runtimeFlags
    })
    const response = await new Promise<HttpServerResponse.HttpServerResponse>((resolve, reject) => {
      const handled = HttpApp.toHandled(
        httpApp,
        (_, answer) => Effect.sync(() => resolve(HttpApp.unsafeEjectStreamScope(answer)))
      )
      Runtime.runFork(requestRuntime)(handled).addObserver((exit) => {
        // toHandled answers every outcome; an exit without an answer is a bug of the platform's, not a hang.
        if (Exit.isFailure(exit)) reject(new Error("the app ended without answering", { cause: exit.cause }))
      })
    })
    return resultOf(response, request.method, requestRuntime)
  }
  return { handler, dispose: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

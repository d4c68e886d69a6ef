// API Gateway HTTP API events (payload format 2.0) to the web Request the HttpApi serves, and its Response back.
// Nothing here knows the API: the same translation would serve any web handler.
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2
} from "aws-lambda"

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

export const requestOf = (event: APIGatewayProxyEventV2, basePath: string): Request => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(event.headers)) {
    if (value !== undefined) headers.set(name, value)
  }
  // Payload 2.0 moves cookies out of the headers into their own list.
  if (event.cookies !== undefined && event.cookies.length > 0) headers.set("cookie", event.cookies.join("; "))
  const method = event.requestContext.http.method.toUpperCase()
  const host = headers.get("host") ?? event.requestContext.domainName
  const query = event.rawQueryString === "" ? "" : `?${event.rawQueryString}`
  const url = `https://${host}${apiPathOf(event, basePath)}${query}`
  return event.body === undefined || BODYLESS.has(method)
    ? new Request(url, { method, headers })
    : new Request(url, { method, headers, body: Buffer.from(event.body, event.isBase64Encoded ? "base64" : "utf8") })
}

const TEXTUAL = /^(text\/|application\/(json|problem\+json|xml|javascript|x-www-form-urlencoded)|image\/svg\+xml)/i

export const resultOf = async (response: Response): Promise<APIGatewayProxyStructuredResultV2> => {
  const headers: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value
  })
  const cookies = response.headers.getSetCookie()
  const bytes = Buffer.from(await response.arrayBuffer())
  const textual = TEXTUAL.test(response.headers.get("content-type") ?? "text/plain")
  return {
    statusCode: response.status,
    headers,
    ...(cookies.length > 0 ? { cookies } : {}),
    body: textual ? bytes.toString("utf8") : bytes.toString("base64"),
    isBase64Encoded: !textual
  }
}

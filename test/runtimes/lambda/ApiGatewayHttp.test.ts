import { describe, expect, it } from "@effect/vitest"
import {
  apiPathOf,
  authorizerClaimsOf,
  gatewayRequestOf,
  normaliseBasePath,
  requestOf,
  resultOf
} from "../../../src/runtimes/lambda/ApiGatewayHttp.js"
import { httpEvent } from "./LambdaEvents.js"

describe("API Gateway HTTP API events", () => {
  it("keeps the path of the default stage, and strips a named stage's segment", () => {
    expect(apiPathOf(httpEvent({ rawPath: "/api/v1/reports/exports" }), "")).toBe("/api/v1/reports/exports")
    expect(apiPathOf(httpEvent({ rawPath: "/prod/api/v1/reports/exports", stage: "prod" }), "")).toBe(
      "/api/v1/reports/exports"
    )
    // A path that only starts with the stage's letters is not under it.
    expect(apiPathOf(httpEvent({ rawPath: "/production/health", stage: "prod" }), "")).toBe("/production/health")
  })

  it("strips a custom domain's base path, written any way, and leaves other paths to the API's 404", () => {
    for (const basePath of ["exports", "/exports", "/exports/", " exports "]) {
      expect(apiPathOf(httpEvent({ rawPath: "/exports/api/v1/notifications" }), basePath)).toBe(
        "/api/v1/notifications"
      )
    }
    expect(apiPathOf(httpEvent({ rawPath: "/exports" }), "exports")).toBe("/")
    expect(apiPathOf(httpEvent({ rawPath: "/exportsx/health" }), "exports")).toBe("/exportsx/health")
    expect(apiPathOf(httpEvent({ rawPath: "/prod/exports/health", stage: "prod" }), "/exports")).toBe("/health")
    expect(normaliseBasePath("/")).toBe("")
  })

  it("builds the web request: method, host, query, headers, cookies and a base64 body", async () => {
    const json = JSON.stringify({ reportType: "orders", dateFrom: "2025-01-01" })
    const request = requestOf(
      httpEvent({
        method: "POST",
        rawPath: "/v1/api/v1/reports/export",
        rawQueryString: "a=1&b=%C3%A9",
        headers: { "content-type": "application/json", authorization: "Bearer t" },
        cookies: ["a=1", "b=2"],
        body: Buffer.from(json).toString("base64"),
        isBase64Encoded: true
      }),
      "v1"
    )
    expect(request.method).toBe("POST")
    expect(request.url).toBe("https://abc123.execute-api.eu-west-1.amazonaws.com/api/v1/reports/export?a=1&b=%C3%A9")
    expect(request.headers.get("authorization")).toBe("Bearer t")
    expect(request.headers.get("cookie")).toBe("a=1; b=2")
    expect(await request.text()).toBe(json)
  })

  it("sends no body with a GET, whatever the event holds", async () => {
    const request = requestOf(httpEvent({ rawPath: "/health", body: "ignored" }), "")
    expect(request.body).toBeNull()
    expect(await request.text()).toBe("")
  })

  it("answers JSON as text, binary as base64, and Set-Cookie as the cookies list", async () => {
    const headers = new Headers({ "content-type": "application/json", location: "/x" })
    headers.append("set-cookie", "a=1; Path=/")
    headers.append("set-cookie", "b=2; Path=/")
    const json = await resultOf(new Response("{\"ok\":true}", { status: 202, headers }))
    expect(json).toStrictEqual({
      statusCode: 202,
      headers: { "content-type": "application/json", location: "/x" },
      cookies: ["a=1; Path=/", "b=2; Path=/"],
      body: "{\"ok\":true}",
      isBase64Encoded: false
    })
    const bytes = Uint8Array.from([0, 255, 1, 254])
    const binary = await resultOf(new Response(bytes, { headers: { "content-type": "application/octet-stream" } }))
    expect(binary.isBase64Encoded).toBe(true)
    expect(Buffer.from(binary.body ?? "", "base64")).toStrictEqual(Buffer.from(bytes))
    const empty = await resultOf(new Response(null, { status: 302, headers: { location: "https://x.test/f" } }))
    expect(empty).toMatchObject({ statusCode: 302, headers: { location: "https://x.test/f" }, body: "" })
  })

  it("reads the JWT authorizer's claims when the route has one", () => {
    const claims = { sub: "u-1", merchant_id: "m-acme" }
    expect(authorizerClaimsOf(httpEvent({ rawPath: "/", claims }))).toStrictEqual(claims)
    const { authorizer: _authorizer, ...context } = httpEvent({ rawPath: "/" }).requestContext
    expect(authorizerClaimsOf({ ...httpEvent({ rawPath: "/" }), requestContext: context })).toBeUndefined()
  })

  it("reads where the event says it came from, and nothing where a forged event leaves it out or mistypes it", () => {
    type Event = Parameters<typeof gatewayRequestOf>[0]
    const claims = { sub: "u-1", merchant_id: "m-acme" }
    expect(gatewayRequestOf(httpEvent({ rawPath: "/", claims, apiId: "api-1", stage: "prod" }))).toStrictEqual({
      apiId: "api-1",
      stage: "prod",
      claims
    })
    const { apiId: _apiId, authorizer: _authorizer, stage: _stage, ...context } = httpEvent({ rawPath: "/" })
      .requestContext
    const nameless = { ...httpEvent({ rawPath: "/" }), requestContext: context } as unknown as Event
    expect(gatewayRequestOf(nameless)).toStrictEqual({ apiId: undefined, stage: undefined, claims: undefined })
    const mistyped = { ...httpEvent({ rawPath: "/" }).requestContext, apiId: 42, stage: ["$default"] }
    const event = { ...httpEvent({ rawPath: "/" }), requestContext: mistyped } as unknown as Event
    expect(gatewayRequestOf(event)).toMatchObject({ apiId: undefined, stage: undefined })
    const { requestContext: _context, ...bare } = httpEvent({ rawPath: "/" })
    expect(gatewayRequestOf(bare as unknown as Event)).toStrictEqual({
      apiId: undefined,
      stage: undefined,
      claims: undefined
    })
  })
})

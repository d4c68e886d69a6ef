import { HttpApi, HttpApiBuilder, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda"
import { Effect, Layer, Stream } from "effect"
import {
  apiPathOf,
  authorizerClaimsOf,
  gatewayRequestOf,
  normaliseBasePath,
  resultOf,
  serverRequestOf,
  toGatewayHandler,
  webResultOf
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

  it("reads the request from the event: method, URL, query, headers, cookies and a base64 body", async () => {
    const json = JSON.stringify({ reportType: "orders", dateFrom: "2025-01-01" })
    const request = serverRequestOf(
      httpEvent({
        method: "post",
        rawPath: "/v1/api/v1/reports/export",
        rawQueryString: "a=1&b=%C3%A9&a=2",
        headers: { "content-type": "application/json", authorization: "Bearer t", "x-padded": "  spaced\t" },
        cookies: ["a=1", "b=2"],
        body: Buffer.from(`\uFEFF${json}`).toString("base64"),
        isBase64Encoded: true
      }),
      "v1"
    )
    expect(request.method).toBe("POST")
    expect(request.url).toBe("/api/v1/reports/export?a=1&b=%C3%A9&a=2")
    expect(request.originalUrl).toBe(
      "https://abc123.execute-api.eu-west-1.amazonaws.com/api/v1/reports/export?a=1&b=%C3%A9&a=2"
    )
    expect(request.headers["authorization"]).toBe("Bearer t")
    expect(request.headers["x-padded"]).toBe("spaced")
    expect(request.headers["cookie"]).toBe("a=1; b=2")
    expect(request.cookies).toStrictEqual({ a: "1", b: "2" })
    expect(await Effect.runPromise(request.text)).toBe(json)
    expect(await Effect.runPromise(request.json)).toStrictEqual(JSON.parse(json))
    const streamed = await Effect.runPromise(Stream.runCollect(request.stream))
    expect(Buffer.concat([...streamed]).toString("utf8")).toBe(`\uFEFF${json}`)
  })

  it("sends no body with a GET, whatever the event holds, and reads a form body of a POST", async () => {
    const get = serverRequestOf(httpEvent({ rawPath: "/health", body: "ignored" }), "")
    expect(await Effect.runPromise(get.text)).toBe("")
    expect(await Effect.runPromise(Effect.either(Stream.runCollect(get.stream)))).toMatchObject({ _tag: "Left" })
    const form = serverRequestOf(
      httpEvent({ method: "POST", rawPath: "/f", body: "a=1&b=two+words&a=3", headers: { "x": "y" } }),
      ""
    )
    expect(await Effect.runPromise(form.urlParamsBody)).toStrictEqual([["a", "1"], ["b", "two words"], ["a", "3"]])
    expect(new Uint8Array(await Effect.runPromise(form.arrayBuffer))).toStrictEqual(
      new Uint8Array(Buffer.from("a=1&b=two+words&a=3"))
    )
  })

  it("answers JSON as text, binary as base64, Set-Cookie as the cookies list, and no body to a HEAD", async () => {
    const json = HttpServerResponse.unsafeJson({ ok: true }, { status: 202, headers: { location: "/x" } }).pipe(
      HttpServerResponse.unsafeSetCookie("a", "1", { path: "/" }),
      HttpServerResponse.unsafeSetCookie("b", "2", { path: "/" })
    )
    expect(await resultOf(json, "POST")).toStrictEqual({
      statusCode: 202,
      headers: { "content-length": "11", "content-type": "application/json", location: "/x" },
      cookies: ["a=1; Path=/", "b=2; Path=/"],
      body: "{\"ok\":true}",
      isBase64Encoded: false
    })
    expect(await resultOf(json, "HEAD")).toMatchObject({
      statusCode: 202,
      body: "",
      cookies: ["a=1; Path=/", "b=2; Path=/"]
    })
    const bytes = Uint8Array.from([0, 255, 1, 254])
    const binary = await resultOf(HttpServerResponse.uint8Array(bytes), "GET")
    expect(binary.isBase64Encoded).toBe(true)
    expect(Buffer.from(binary.body ?? "", "base64")).toStrictEqual(Buffer.from(bytes))
    const empty = await resultOf(HttpServerResponse.redirect("https://x.test/f", { status: 302 }), "GET")
    expect(empty).toMatchObject({ statusCode: 302, headers: { location: "https://x.test/f" }, body: "" })
    const streamed = HttpServerResponse.stream(
      Stream.make(new TextEncoder().encode("a,"), new TextEncoder().encode("b")),
      {
        contentType: "text/csv"
      }
    )
    expect(await resultOf(streamed, "GET")).toMatchObject({ body: "a,b", isBase64Encoded: false })
  })

  describe("answers every event as the platform's web handler did (the web Request and Response in between)", () => {
    // An app that shows what it was given, and answers with each kind of body.
    const routes = HttpApiBuilder.Router.use((router) =>
      Effect.gen(function*() {
        const echo = Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          return yield* HttpServerResponse.json({
            method: request.method,
            url: request.url,
            headers: request.headers,
            cookies: request.cookies,
            text: yield* request.text
          })
        })
        yield* router.all("/echo/*", echo)
        yield* router.all("/echo", echo)
        yield* router.post(
          "/json",
          Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => request.json).pipe(
            Effect.flatMap((body) => HttpServerResponse.json({ body })),
            Effect.orElseSucceed(() => HttpServerResponse.text("not json", { status: 400 }))
          )
        )
        yield* router.get(
          "/binary",
          Effect.succeed(
            HttpServerResponse.uint8Array(Uint8Array.from([0, 159, 146, 150]), {
              headers: { "cache-control": " no-store ", "set-cookie": "raw=1; Path=/" }
            }).pipe(
              HttpServerResponse.unsafeSetCookie("session", "s p", { httpOnly: true, secure: true, path: "/" })
            )
          )
        )
        yield* router.get(
          "/stream",
          Effect.succeed(
            HttpServerResponse.stream(Stream.make("id,n\n", "1,é\n").pipe(Stream.encodeText), {
              contentType: "text/csv"
            })
          )
        )
        yield* router.get("/raw", Effect.succeed(HttpServerResponse.raw("plain words", { status: 418 })))
        yield* router.get("/empty", Effect.succeed(HttpServerResponse.empty({ status: 204 })))
        yield* router.get(
          "/redirect",
          Effect.succeed(HttpServerResponse.redirect("https://files.test/a?b=c", { status: 302 }))
        )
        yield* router.get("/fails", Effect.die("a defect"))
      })
    )
    const layer = Layer.mergeAll(
      HttpApiBuilder.api(HttpApi.make("echo")),
      routes,
      HttpServer.layerContext
    )

    // The translation this module replaced: the event as a web Request, served by the platform's web handler.
    const BODYLESS = new Set(["GET", "HEAD"])
    const webRequestOf = (event: APIGatewayProxyEventV2): Request => {
      const headers = new Headers()
      for (const [name, value] of Object.entries(event.headers)) {
        if (value !== undefined) headers.set(name, value)
      }
      if (event.cookies !== undefined && event.cookies.length > 0) headers.set("cookie", event.cookies.join("; "))
      const method = event.requestContext.http.method.toUpperCase()
      const url = `https://${headers.get("host") ?? event.requestContext.domainName}${apiPathOf(event, "")}${
        event.rawQueryString === "" ? "" : `?${event.rawQueryString}`
      }`
      return event.body === undefined || BODYLESS.has(method)
        ? new Request(url, { method, headers })
        : new Request(url, {
          method,
          headers,
          body: Buffer.from(event.body, event.isBase64Encoded ? "base64" : "utf8")
        })
    }

    const events: ReadonlyArray<[string, APIGatewayProxyEventV2]> = [
      [
        "a GET with a query repeated and encoded",
        httpEvent({ rawPath: "/echo/a%20b/c", rawQueryString: "q=1&q=2&s=%C3%A9" })
      ],
      [
        "a named stage, dot segments and a header in capitals",
        httpEvent({
          rawPath: "/prod/echo/x/../y",
          stage: "prod",
          headers: { "X-Custom": "  padded  ", accept: "text/csv, application/json" }
        })
      ],
      ["cookies in their own list", httpEvent({ rawPath: "/echo", cookies: ["a=1", "b=two%20words"] })],
      [
        "a POST with a JSON body",
        httpEvent({
          method: "POST",
          rawPath: "/echo",
          headers: { "content-type": "application/json" },
          body: "{\"reportType\":\"orders\",\"name\":\"é\"}"
        })
      ],
      [
        "a base64 body with a byte order mark",
        httpEvent({
          method: "PUT",
          rawPath: "/echo",
          body: Buffer.from("\uFEFFtext after a BOM").toString("base64"),
          isBase64Encoded: true
        })
      ],
      ["a POST without a body", httpEvent({ method: "POST", rawPath: "/echo" })],
      ["a method in lower case", httpEvent({ method: "delete", rawPath: "/echo" })],
      ["a HEAD", httpEvent({ method: "HEAD", rawPath: "/echo" })],
      ["malformed JSON", httpEvent({ method: "POST", rawPath: "/json", body: "{" })],
      ["JSON", httpEvent({ method: "POST", rawPath: "/json", body: "[1,2]" })],
      ["a binary answer with cookies and a padded header", httpEvent({ rawPath: "/binary" })],
      ["a streamed answer", httpEvent({ rawPath: "/stream" })],
      ["a raw string answer", httpEvent({ rawPath: "/raw" })],
      ["204", httpEvent({ rawPath: "/empty" })],
      ["a redirect", httpEvent({ rawPath: "/redirect" })],
      ["no route", httpEvent({ rawPath: "/nowhere" })],
      ["a defect", httpEvent({ rawPath: "/fails" })]
    ]

    const web = HttpApiBuilder.toWebHandler(layer)
    const gateway = toGatewayHandler(layer)

    for (const [name, event] of events) {
      it(name, async () => {
        const expected: APIGatewayProxyStructuredResultV2 = await webResultOf(await web.handler(webRequestOf(event)))
        const answered = await gateway.handler(event, "")
        expect(answered).toStrictEqual(expected)
        // The same headers in the same order.
        expect(JSON.stringify(answered)).toBe(JSON.stringify(expected))
      })
    }
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

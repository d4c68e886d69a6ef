// An identity provider's JWKS endpoint on 127.0.0.1, for as long as a scope: it serves the public half of an RS256
// key pair whose private half signs the tests' tokens, and can be stopped (connections refused), made to hang, to
// answer 500 or to answer something that is no key set, and started again on the same port.
import { Effect } from "effect"
import * as Jose from "jose"
import { createServer } from "node:http"
import type { ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** How the endpoint answers: the key set; never; a 500; a body that is not JSON; JSON that is not a key set. */
export type JwksMode = "serving" | "hanging" | "failing" | "not-json" | "not-a-key-set"

type SigningKey = Awaited<ReturnType<typeof Jose.generateKeyPair>>["privateKey"]

export const JWKS_KEY_ID = "test-key-1"
export const JWKS_ISSUER = "https://id.example.test/"
export const JWKS_AUDIENCE = "exports-api"

export interface JwksTokenOptions {
  readonly sub: string
  readonly merchantId: string
  readonly email: string
  /** Another key id in the header than the served key's. */
  readonly keyId?: string
  /** Signed with this key instead of the served key's private half. */
  readonly signingKey?: SigningKey
}

const listen = (server: ReturnType<typeof createServer>, port: number) =>
  Effect.async<number>((resume) => {
    server.listen(port, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
  })

const close = (server: ReturnType<typeof createServer>, hanging: Set<ServerResponse>) =>
  Effect.async<void>((resume) => {
    if (!server.listening) return resume(Effect.void)
    for (const response of hanging) response.destroy()
    hanging.clear()
    server.close(() => resume(Effect.void))
    server.closeAllConnections()
  })

export const makeJwksServer = Effect.gen(function*() {
  const { privateKey, publicKey } = yield* Effect.promise(() => Jose.generateKeyPair("RS256"))
  const jwk = {
    ...(yield* Effect.promise(() => Jose.exportJWK(publicKey))),
    kid: JWKS_KEY_ID,
    alg: "RS256",
    use: "sig"
  }
  let mode: JwksMode = "serving"
  let fetches = 0
  const hanging = new Set<ServerResponse>()
  const server = createServer((_, response) => {
    fetches++
    const json = (status: number, body: string) => {
      response.writeHead(status, { "content-type": "application/json" })
      response.end(body)
    }
    switch (mode) {
      case "serving":
        return json(200, JSON.stringify({ keys: [jwk] }))
      case "hanging":
        hanging.add(response)
        return
      case "failing":
        return json(500, JSON.stringify({ error: "internal" }))
      case "not-json":
        return json(200, "<html>maintenance</html>")
      case "not-a-key-set":
        return json(200, JSON.stringify({ keys: "none today" }))
    }
  })
  const port = yield* Effect.acquireRelease(listen(server, 0), () => close(server, hanging))
  let jti = 0
  return {
    url: new URL(`http://127.0.0.1:${port}/.well-known/jwks.json`),
    /** How many times the key set was asked for. */
    fetches: () => fetches,
    setMode: (next: JwksMode) => {
      mode = next
    },
    /** Refuses connections from now on: nothing listens on the port. */
    stop: close(server, hanging),
    /** Listens again on the same port. */
    start: Effect.asVoid(listen(server, port)),
    /** A token for the user, valid for an hour from Date.now(); each one different, so no cache has seen it. */
    sign: (options: JwksTokenOptions) =>
      Effect.promise(() => {
        const issuedAt = Math.floor(Date.now() / 1000)
        return new Jose.SignJWT({ merchant_id: options.merchantId, email: options.email, jti: `token-${++jti}` })
          .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: options.keyId ?? JWKS_KEY_ID })
          .setSubject(options.sub)
          .setIssuer(JWKS_ISSUER)
          .setAudience(JWKS_AUDIENCE)
          .setIssuedAt(issuedAt)
          .setExpirationTime(issuedAt + 3600)
          .sign(options.signingKey ?? privateKey)
      })
  }
})

// Bearer tokens verified with jose: HS256 with a shared secret for local use, or RS256/ES256 keys from an
// identity provider's JWKS URL. Algorithms are pinned, issuer and audience checked, clock skew bounded, and the
// token itself never reaches a log line. A key set that cannot be fetched is not the token's fault: it fails as
// KeySetUnavailable, apart from the token's own rejections.
import { Config, ConfigError, Context, Duration, Effect, Either, Layer, Option, Redacted, Schema } from "effect"
import * as Jose from "jose"
import type { Caller } from "../../application/RequestExport.js"
import { EmailAddress, MerchantId, Owner, UserId } from "../../domain/Identifiers.js"

export class TokenRejected extends Schema.TaggedError<TokenRejected>()("TokenRejected", {
  reason: Schema.Literal("missing", "malformed", "expired", "signature", "claims")
}) {}

/** The identity provider's key set could not be fetched (or was no key set): no token can be checked for now. */
export class KeySetUnavailable extends Schema.TaggedError<KeySetUnavailable>()("KeySetUnavailable", {
  reason: Schema.Literal("timeout", "unreachable", "bad-response")
}) {}

export interface JwtSettings {
  readonly keys:
    | { readonly _tag: "SharedSecret"; readonly secret: Redacted.Redacted<string> }
    | {
      readonly _tag: "Jwks"
      readonly url: URL
      readonly algorithms: ReadonlyArray<string>
      /** How long one fetch of the key set may take before the request is answered 503. */
      readonly timeout: Duration.Duration
    }
  readonly issuer: string
  readonly audience: string
  readonly clockSkew: Duration.Duration
  readonly merchantClaim: string
  readonly emailClaim: string
}

export const DEV_ISSUER = "async-data-export-dev"
export const DEV_AUDIENCE = "async-data-export"

/**
 * A key set fetch slower than this counts as an outage: the request waiting on it still gets its 503 well within
 * the API function's 10-second timeout, and an identity provider that slow is not serving its keys anyway.
 */
export const DEFAULT_JWKS_TIMEOUT = Duration.seconds(3)
const MAX_JWKS_TIMEOUT = Duration.seconds(10)

export const jwtSettingsConfig: Config.Config<JwtSettings> = Config.all({
  secret: Config.option(Config.redacted("AUTH_JWT_SECRET")),
  jwksUrl: Config.option(Config.url("AUTH_JWKS_URL")),
  algorithms: Config.array(Config.literal("RS256", "ES256", "PS256", "EdDSA")("AUTH_JWKS_ALGORITHMS")).pipe(
    Config.withDefault(["RS256", "ES256"] as const)
  ),
  jwksTimeout: Config.duration("AUTH_JWKS_TIMEOUT").pipe(
    // Validated before the default, or the failure would lose the variable's name.
    Config.validate({
      message: "must be more than 0 and at most 10 seconds",
      validation: (timeout) =>
        Duration.greaterThan(timeout, Duration.zero) && Duration.lessThanOrEqualTo(timeout, MAX_JWKS_TIMEOUT)
    }),
    Config.withDefault(DEFAULT_JWKS_TIMEOUT)
  ),
  issuer: Config.string("AUTH_ISSUER").pipe(Config.withDefault(DEV_ISSUER)),
  audience: Config.string("AUTH_AUDIENCE").pipe(Config.withDefault(DEV_AUDIENCE)),
  clockSkew: Config.duration("AUTH_CLOCK_SKEW").pipe(
    Config.validate({
      message: "must be at most 5 minutes",
      validation: (skew) => Duration.lessThanOrEqualTo(skew, Duration.minutes(5))
    }),
    Config.withDefault(Duration.seconds(30))
  ),
  merchantClaim: Config.string("AUTH_MERCHANT_CLAIM").pipe(Config.withDefault("merchant_id")),
  emailClaim: Config.string("AUTH_EMAIL_CLAIM").pipe(Config.withDefault("email"))
}).pipe(
  Config.mapOrFail(
    ({ algorithms, jwksTimeout, jwksUrl, secret, ...rest }): Either.Either<JwtSettings, ConfigError.ConfigError> => {
      if (Option.isSome(secret) === Option.isSome(jwksUrl)) {
        return Either.left(
          ConfigError.InvalidData(["AUTH_JWT_SECRET"], "set exactly one of AUTH_JWT_SECRET or AUTH_JWKS_URL")
        )
      }
      if (Option.isSome(secret)) {
        return Redacted.value(secret.value).length < 32
          ? Either.left(ConfigError.InvalidData(["AUTH_JWT_SECRET"], "must be at least 32 characters"))
          : Either.right({ ...rest, keys: { _tag: "SharedSecret", secret: secret.value } })
      }
      return Either.right({
        ...rest,
        keys: { _tag: "Jwks", url: Option.getOrThrow(jwksUrl), algorithms, timeout: jwksTimeout }
      })
    }
  )
)

const decodeUserId = Schema.decodeUnknownOption(UserId)
const decodeMerchantId = Schema.decodeUnknownOption(MerchantId)
const decodeEmail = Schema.decodeUnknownOption(EmailAddress)

/** Where a token names its caller: `sub` is the user; the merchant and e-mail claims are settings. */
export interface ClaimNames {
  readonly merchantClaim: string
  readonly emailClaim: string
}

/** The caller verified claims name, or None when one is missing or malformed. */
export const callerFromClaims = (claims: Readonly<Record<string, unknown>>, names: ClaimNames): Option.Option<Caller> =>
  Option.all({
    userId: decodeUserId(claims["sub"]),
    merchantId: decodeMerchantId(claims[names.merchantClaim]),
    email: decodeEmail(claims[names.emailClaim])
  }).pipe(
    Option.map(({ email, merchantId, userId }): Caller => ({
      owner: new Owner({ userId, merchantId }),
      email: Redacted.make(email)
    }))
  )

const reasonOf = (error: unknown): TokenRejected["reason"] => {
  if (error instanceof Jose.errors.JWTExpired) return "expired"
  if (error instanceof Jose.errors.JWTClaimValidationFailed) return "claims"
  if (error instanceof Jose.errors.JWSSignatureVerificationFailed) return "signature"
  if (
    error instanceof Jose.errors.JOSEAlgNotAllowed || error instanceof Jose.errors.JWKSNoMatchingKey ||
    error instanceof Jose.errors.JWKSMultipleMatchingKeys
  ) {
    return "signature"
  }
  return "malformed"
}

/** Why a key set fetch failed: jose's timeout, a JOSE error about the answer, or fetch's own network failure. */
const unavailableReason = (error: unknown): KeySetUnavailable["reason"] => {
  if (error instanceof Jose.errors.JWKSTimeout) return "timeout"
  // A non-200 answer, a body that is not JSON or not a key set, a key in it that does not import.
  if (error instanceof Jose.errors.JOSEError) return "bad-response"
  return "unreachable"
}

/**
 * The identity provider's keys, fetched on first use and cached by jose, so building this does no network I/O.
 * jose fetches inside its key lookup and lets the fetch's errors through as they are; the lookup's only failures
 * that are the token's doing are a key id no key (or more than one key) of a fetched set answers to.
 */
const remoteKeySet = (url: URL, timeout: Duration.Duration): Jose.JWTVerifyGetKey => {
  const keys = Jose.createRemoteJWKSet(url, { timeoutDuration: Duration.toMillis(timeout) })
  return async (header, token) => {
    try {
      return await keys(header, token)
    } catch (error) {
      if (error instanceof Jose.errors.JWKSNoMatchingKey || error instanceof Jose.errors.JWKSMultipleMatchingKeys) {
        throw error
      }
      throw new KeySetUnavailable({ reason: unavailableReason(error) })
    }
  }
}

const VERIFIED_TOKENS_CACHED = 10_000

export const make = (settings: JwtSettings) => {
  const key = settings.keys._tag === "SharedSecret"
    ? new TextEncoder().encode(Redacted.value(settings.keys.secret))
    : remoteKeySet(settings.keys.url, settings.keys.timeout)
  const algorithms = settings.keys._tag === "SharedSecret" ? ["HS256"] : [...settings.keys.algorithms]

  // A token that verified stays valid until it expires (JWTs cannot be revoked), so a client's repeated calls
  // skip the signature check until then. Bounded: the oldest entries go first.
  const verified = new Map<string, { readonly caller: Caller; readonly validUntil: number }>()
  const remember = (token: string, caller: Caller, exp: number | undefined) => {
    if (exp === undefined) return
    if (verified.size >= VERIFIED_TOKENS_CACHED) verified.delete(verified.keys().next().value!)
    verified.set(token, { caller, validUntil: exp * 1000 + Duration.toMillis(settings.clockSkew) })
  }

  const verifySignature = (token: string, now: number): Effect.Effect<Caller, TokenRejected | KeySetUnavailable> =>
    Effect.gen(function*() {
      const { payload } = yield* Effect.tryPromise({
        try: () =>
          Jose.jwtVerify(token, key as Uint8Array, {
            algorithms,
            issuer: settings.issuer,
            audience: settings.audience,
            clockTolerance: Math.floor(Duration.toSeconds(settings.clockSkew)),
            currentDate: new Date(now),
            requiredClaims: ["sub", "exp"]
          }),
        catch: (error) => error instanceof KeySetUnavailable ? error : new TokenRejected({ reason: reasonOf(error) })
      })
      const found = callerFromClaims(payload, settings)
      if (Option.isNone(found)) return yield* new TokenRejected({ reason: "claims" })
      const caller = found.value
      remember(token, caller, payload.exp)
      return caller
    })

  // Every request verifies its token, and nearly always finds it remembered: that path is one step that reads the
  // clock.
  const verify = (token: string): Effect.Effect<Caller, TokenRejected | KeySetUnavailable> =>
    Effect.clockWith((clock) => {
      if (token.length === 0) return new TokenRejected({ reason: "missing" })
      const now = clock.unsafeCurrentTimeMillis()
      const cached = verified.get(token)
      if (cached !== undefined) {
        if (now < cached.validUntil) return Effect.succeed(cached.caller)
        verified.delete(token)
      }
      return verifySignature(token, now)
    })
  return { verify }
}

export class JwtVerifier extends Context.Tag("exports/auth/JwtVerifier")<
  JwtVerifier,
  ReturnType<typeof make>
>() {}

/** The verifier on explicit settings. */
export const layer = (settings: JwtSettings) => Layer.succeed(JwtVerifier, make(settings))

/** The verifier on the environment's AUTH_* settings; a missing or malformed one fails start-up with its name. */
export const layerConfig = Layer.effect(JwtVerifier, Effect.map(jwtSettingsConfig, make))

/** A token the embedded server accepts (HS256): for `npm run dev-token` and tests, never for production keys. */
export const signDevToken = (options: {
  readonly secret: Redacted.Redacted<string>
  readonly sub: string
  readonly merchantId: string
  readonly email: string
  readonly ttl: Duration.Duration
  readonly issuer?: string
  readonly audience?: string
  readonly now?: number
}): Promise<string> => {
  const issuedAt = Math.floor((options.now ?? Date.now()) / 1000)
  return new Jose.SignJWT({ merchant_id: options.merchantId, email: options.email })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(options.sub)
    .setIssuer(options.issuer ?? DEV_ISSUER)
    .setAudience(options.audience ?? DEV_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + Math.floor(Duration.toSeconds(options.ttl)))
    .sign(new TextEncoder().encode(Redacted.value(options.secret)))
}

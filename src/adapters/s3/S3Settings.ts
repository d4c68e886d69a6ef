// What both S3 adapters share, without the SDK's S3 client: the settings and their rules, and how long a download
// link is signed for. The API signs its links with SigV4 alone (S3LinkFileStore, ADR 61), so that its bundle loads
// no S3 client at start; the worker uploads through S3FileStore.
import { Config, ConfigError, Duration, Either, Option, Schema } from "effect"
import type { Redacted } from "effect"
import { MAX_LINK_TTL } from "../../application/ports/FileStore.js"
import { AWS_REGION } from "../aws/AwsRegion.js"

export interface S3Credentials {
  readonly accessKeyId: Redacted.Redacted<string>
  readonly secretAccessKey: Redacted.Redacted<string>
}

export interface S3FileStoreSettings {
  readonly bucket: string
  /** `auto` for R2; an AWS region such as `eu-west-1` for S3. */
  readonly region: string
  /** A custom endpoint (R2: `https://<account>.r2.cloudflarestorage.com`); None for AWS S3's own. */
  readonly endpoint: Option.Option<URL>
  /** Address buckets as `<endpoint>/<bucket>/<key>` rather than `<bucket>.<endpoint>/<key>`. */
  readonly forcePathStyle: boolean
  /** Static keys; None to use the SDK's default credential chain (environment, profile, IAM role). */
  readonly credentials: Option.Option<S3Credentials>
  /** The size of each uploaded part in bytes, 5 MiB to 5 GiB. */
  readonly partSize: number
  /** How many parts are uploaded at once. An upload holds at most `(uploadConcurrency + 1) × partSize` of parts. */
  readonly uploadConcurrency: number
  /**
   * The longest one UploadPart, PutObject or CompleteMultipartUpload may take, the SDK's own attempts included: a
   * part of `partSize` bytes must fit in it on the slowest link the worker should cope with. Past it the call fails
   * as a retryable UploadFailed.
   */
  readonly callTimeout: Duration.Duration
  /** The same for the calls that move no data: CreateMultipartUpload, HeadObject, presigning, one abort attempt. */
  readonly quickCallTimeout: Duration.Duration
}

export const MIN_PART_SIZE = 5 * 1024 * 1024
const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
/**
 * S3's smallest part: an upload holds `(uploadConcurrency + 1)` of them, the largest share of a worker's peak memory
 * (ADR 49). 10,000 parts of it make 48 GiB, far past the longest export.
 */
export const DEFAULT_PART_SIZE = MIN_PART_SIZE
export const DEFAULT_UPLOAD_CONCURRENCY = 4
const MAX_UPLOAD_CONCURRENCY = 64

/** S3's bounds on a part (the last excepted), checked where settings are read and where a store is made. */
const PART_SIZE_RULE = {
  message: `must be a whole number of bytes from ${MIN_PART_SIZE} (5 MiB) to ${MAX_PART_SIZE} (5 GiB)`,
  validation: (size: number) => Number.isInteger(size) && size >= MIN_PART_SIZE && size <= MAX_PART_SIZE
}
const UPLOAD_CONCURRENCY_RULE = {
  message: `must be a whole number from 1 to ${MAX_UPLOAD_CONCURRENCY}`,
  validation: (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_UPLOAD_CONCURRENCY
}

/**
 * S3_CALL_TIMEOUT's default. Three of the SDK's attempts, each ended by its idle limit when the connection stalls,
 * fit in it; a 5 MiB part fits in it down to about 45 KiB/s.
 */
export const DEFAULT_CALL_TIMEOUT = Duration.minutes(2)
/** A call that moves no data answers in well under a second; HeadObject and presigning also serve API requests. */
export const QUICK_CALL_TIMEOUT = Duration.seconds(10)

export const isPositive = (duration: Duration.Duration) =>
  Duration.isFinite(duration) && Duration.toMillis(duration) > 0

export class S3FileStoreSetupFailed extends Schema.TaggedError<S3FileStoreSetupFailed>()("S3FileStoreSetupFailed", {
  detail: Schema.String
}) {}

/** `settings`' problems, every one of them; empty when a store can be made on them. */
export const settingsProblems = (settings: S3FileStoreSettings): ReadonlyArray<string> =>
  [
    settings.bucket === "" ? "the bucket name is empty" : undefined,
    PART_SIZE_RULE.validation(settings.partSize) ? undefined : `the part size ${PART_SIZE_RULE.message}`,
    UPLOAD_CONCURRENCY_RULE.validation(settings.uploadConcurrency)
      ? undefined
      : `the upload concurrency ${UPLOAD_CONCURRENCY_RULE.message}`,
    isPositive(settings.callTimeout) ? undefined : "the call timeout must be finite and positive",
    isPositive(settings.quickCallTimeout) ? undefined : "the quick call timeout must be finite and positive"
  ].filter((problem) => problem !== undefined)

/** A download link's lifetime, as SigV4 signs it: from the start of `now`'s second, for `expiresIn` seconds. */
export interface LinkLifetime {
  readonly signedAt: number
  readonly expiresIn: number
  readonly expiresAtMillis: number
}

/**
 * The lifetime of a link asked for `ttl` at `now` (milliseconds), or why none can be signed. Refused rather than
 * capped past MAX_LINK_TTL: a shorter link than the expiry we announce would break the promise to the user.
 */
export const linkLifetime = (now: number, ttl: Duration.Duration): Either.Either<LinkLifetime, string> => {
  if (!Duration.isFinite(ttl) || Duration.toMillis(ttl) <= 0) return Either.left("ttl must be finite and positive")
  if (Duration.greaterThan(ttl, MAX_LINK_TTL)) {
    return Either.left(`ttl exceeds the ${Duration.toDays(MAX_LINK_TTL)} days a presigned URL lives`)
  }
  const expiresAtMillis = now + Duration.toMillis(ttl)
  // SigV4 dates have whole seconds, so the URL counts from the start of the current second; rounding its lifetime up
  // keeps it alive until `expiresAt` (but for the 7-day cap, where it may end < 1 s before).
  const signedAt = Math.floor(now / 1000) * 1000
  const expiresIn = Math.min(Duration.toSeconds(MAX_LINK_TTL), Math.ceil((expiresAtMillis - signedAt) / 1000))
  return Either.right({ signedAt, expiresIn, expiresAtMillis })
}

/**
 * S3_ENDPOINT, and S3_REGION: when unset, `auto` for an endpoint (R2, whose only region it is), else AWS_REGION (AWS
 * S3 itself, in the function's or the service's region).
 */
const regionAndEndpoint = {
  endpoint: Config.option(Config.url("S3_ENDPOINT")),
  region: Config.nonEmptyString("S3_REGION").pipe(
    Config.orElse(() => Config.map(Config.url("S3_ENDPOINT"), () => "auto")),
    Config.orElse(() => Config.nonEmptyString(AWS_REGION))
  )
}

/** The settings from the environment; a missing or malformed one fails start-up with its name. */
export const s3FileStoreSettingsConfig: Config.Config<S3FileStoreSettings> = Config.all({
  bucket: Config.nonEmptyString("S3_BUCKET"),
  ...regionAndEndpoint,
  forcePathStyle: Config.boolean("S3_FORCE_PATH_STYLE").pipe(Config.withDefault(false)),
  credentials: Config.all({
    accessKeyId: Config.option(Config.redacted("S3_ACCESS_KEY_ID")),
    secretAccessKey: Config.option(Config.redacted("S3_SECRET_ACCESS_KEY"))
  }).pipe(
    Config.mapOrFail(({ accessKeyId, secretAccessKey }) =>
      Option.isSome(accessKeyId) && Option.isSome(secretAccessKey)
        ? Either.right(Option.some({ accessKeyId: accessKeyId.value, secretAccessKey: secretAccessKey.value }))
        : Option.isNone(accessKeyId) && Option.isNone(secretAccessKey)
        ? Either.right(Option.none())
        : Either.left(
          ConfigError.InvalidData([], "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together, or neither")
        )
    )
  ),
  partSize: Config.integer("S3_PART_SIZE").pipe(
    Config.withDefault(DEFAULT_PART_SIZE),
    Config.validate({ ...PART_SIZE_RULE, message: `S3_PART_SIZE ${PART_SIZE_RULE.message}` })
  ),
  uploadConcurrency: Config.integer("S3_UPLOAD_CONCURRENCY").pipe(
    Config.withDefault(DEFAULT_UPLOAD_CONCURRENCY),
    Config.validate({ ...UPLOAD_CONCURRENCY_RULE, message: `S3_UPLOAD_CONCURRENCY ${UPLOAD_CONCURRENCY_RULE.message}` })
  ),
  callTimeout: Config.duration("S3_CALL_TIMEOUT").pipe(
    Config.withDefault(DEFAULT_CALL_TIMEOUT),
    Config.validate({ message: "S3_CALL_TIMEOUT must be finite and positive", validation: isPositive })
  )
}).pipe(Config.map((settings): S3FileStoreSettings => ({ ...settings, quickCallTimeout: QUICK_CALL_TIMEOUT })))

// Finished exports in S3-compatible object storage (Cloudflare R2 in production, AWS S3, path-style endpoints). An
// upload is a multipart upload fed from the stream in bounded memory; a download link is a presigned GET.
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException
} from "@aws-sdk/client-s3"
import type { S3ClientConfig } from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import { getSignedUrl } from "@aws-sdk/s3-request-presigner"
import { NodeStream } from "@effect/platform-node"
import {
  Cause,
  Clock,
  Config,
  ConfigError,
  Context,
  DateTime,
  Duration,
  Effect,
  Either,
  Layer,
  Option,
  Redacted,
  Schedule,
  Schema,
  Stream
} from "effect"
import type { Readable } from "node:stream"
import type { FileMetadata, SignedLink } from "../../application/ports/FileStore.js"
import { FileStore } from "../../application/ports/FileStore.js"
import { LinkSigningFailed, UploadFailed } from "../../domain/Errors.js"
import type { ObjectKey } from "../../domain/ExportJob.js"

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
  /**
   * How many parts are uploaded at once. lib-storage holds `(uploadConcurrency + 1) × partSize` and copies each part
   * once from the pieces it was fed: measured, an upload's buffers peak at about twice that (96 MiB at 8 MiB × 4)
   * before the garbage collector frees the copies.
   */
  readonly uploadConcurrency: number
}

export const MIN_PART_SIZE = 5 * 1024 * 1024
const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024
export const DEFAULT_UPLOAD_CONCURRENCY = 4
const MAX_UPLOAD_CONCURRENCY = 64
/** SigV4 presigned URLs live at most 7 days. */
export const MAX_LINK_TTL = Duration.days(7)

// After a failure or an interruption, how long we wait for the parts in flight to land and the multipart upload to
// be aborted. Past that, the bucket's lifecycle rule (AbortIncompleteMultipartUpload) is what cleans up.
const CLEANUP_TIMEOUT = Duration.seconds(60)
// Our own AbortMultipartUpload after lib-storage's, in case its one attempt failed: a few quick retries.
const abortRetry = Schedule.exponential(Duration.millis(200)).pipe(Schedule.intersect(Schedule.recurs(3)))

const THROTTLING = new Set(["SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"])
// Node's codes for a request that got no HTTP answer at all: the network, not the request, is at fault.
const NETWORK = new Set(["ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"])

/** Throttling, a 5xx or a failed connection may pass on a retry; any other 4xx will not. */
export const isRetryable = (error: unknown): boolean => {
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode ?? 0
    return THROTTLING.has(error.name) || status === 429 || status >= 500 || error.$retryable !== undefined
  }
  if (error instanceof Error) {
    const code = (error as { readonly code?: unknown }).code
    return error.name === "TimeoutError" || (typeof code === "string" && NETWORK.has(code))
  }
  return false
}

const describe = (error: unknown): string =>
  error instanceof S3ServiceException
    ? `${error.name} (HTTP ${error.$metadata.httpStatusCode ?? "?"}): ${error.message}`
    : error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error)

const isNotFound = (error: unknown): boolean =>
  error instanceof S3ServiceException &&
  (error.name === "NotFound" || error.name === "NoSuchKey" || error.$metadata.httpStatusCode === 404)

/** RFC 6266: a quoted ASCII fallback for old clients, and the exact name in RFC 5987 form for the others. */
export const contentDisposition = (name: string): string => {
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, "_")
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`
}

export const clientConfig = (settings: S3FileStoreSettings): S3ClientConfig => ({
  region: settings.region,
  forcePathStyle: settings.forcePathStyle,
  // R2 and most S3-compatible stores reject or mishandle the flexible checksums the SDK sends by default since
  // 3.729; only send them where an operation requires one (Cloudflare's documented setting).
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
  ...Option.match(settings.endpoint, { onNone: () => ({}), onSome: (url) => ({ endpoint: url.href }) }),
  ...Option.match(settings.credentials, {
    onNone: () => ({}),
    onSome: (credentials) => ({
      credentials: {
        accessKeyId: Redacted.value(credentials.accessKeyId),
        secretAccessKey: Redacted.value(credentials.secretAccessKey)
      }
    })
  })
})

export class S3FileStoreSetupFailed extends Schema.TaggedError<S3FileStoreSetupFailed>()("S3FileStoreSetupFailed", {
  detail: Schema.String
}) {}

/** The S3 client, destroyed (its sockets closed) when the layer's scope closes. */
export class S3 extends Context.Tag("exports/s3/S3Client")<S3, S3Client>() {
  static readonly layer = (settings: S3FileStoreSettings): Layer.Layer<S3> =>
    Layer.scoped(
      S3,
      // The constructor does no I/O: credentials and endpoints are resolved at the first request.
      Effect.acquireRelease(
        Effect.sync(() => new S3Client(clientConfig(settings))),
        (client) => Effect.sync(() => client.destroy())
      )
    )
}

const validate = (settings: S3FileStoreSettings): Effect.Effect<S3FileStoreSettings, S3FileStoreSetupFailed> => {
  const problems = [
    settings.bucket === "" ? "the bucket name is empty" : undefined,
    !Number.isInteger(settings.partSize) || settings.partSize < MIN_PART_SIZE || settings.partSize > MAX_PART_SIZE
      ? `the part size must be a whole number of bytes from ${MIN_PART_SIZE} to ${MAX_PART_SIZE}`
      : undefined,
    !Number.isInteger(settings.uploadConcurrency) || settings.uploadConcurrency < 1 ||
      settings.uploadConcurrency > MAX_UPLOAD_CONCURRENCY
      ? `the upload concurrency must be a whole number from 1 to ${MAX_UPLOAD_CONCURRENCY}`
      : undefined
  ].filter((problem) => problem !== undefined)
  return problems.length === 0
    ? Effect.succeed(settings)
    : Effect.fail(new S3FileStoreSetupFailed({ detail: problems.join("; ") }))
}

/** What one upload learnt from the outside of lib-storage: how the body ended, and the first S3 error. */
interface UploadWitness<E> {
  bodyFailure: Option.Option<Cause.Cause<E>>
  s3Failure: Option.Option<unknown>
}

export const make = (settings: S3FileStoreSettings) =>
  Effect.gen(function*() {
    const client = yield* S3
    const { bucket, partSize, uploadConcurrency } = yield* validate(settings)

    /** The multipart upload left under an id, if any: aborted again, harmlessly if lib-storage already did. */
    const abortLeftover = (key: ObjectKey, uploadId: string | undefined) =>
      uploadId === undefined ?
        Effect.void :
        Effect.tryPromise((signal) =>
          client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), {
            abortSignal: signal
          })
        ).pipe(
          Effect.catchIf((error) => isNotFound(error.error), () => Effect.void),
          Effect.retry({ schedule: abortRetry, while: (error) => isRetryable(error.error) }),
          Effect.asVoid
        )

    const upload = <E>(key: ObjectKey, body: Stream.Stream<Uint8Array, E>, metadata: FileMetadata) =>
      Effect.gen(function*() {
        const witness: UploadWitness<E> = { bodyFailure: Option.none(), s3Failure: Option.none() }
        const recorded = body.pipe(
          Stream.onError((cause) =>
            Effect.sync(() => {
              if (!Cause.isInterruptedOnly(cause)) witness.bodyFailure = Option.some(cause)
            })
          )
        )
        // A Node Readable that pulls one chunk from the stream each time lib-storage reads: lib-storage holds at
        // most `uploadConcurrency` parts plus the one it is filling, whatever the size of the export.
        // `toReadable` runs the body on the runtime it is made in: made in an (uninterruptible) acquire, the body
        // could never be interrupted, so it is made interruptible explicitly.
        const readable = yield* Effect.acquireRelease(
          Effect.interruptible(NodeStream.toReadable(recorded)),
          (stream) => Effect.sync(() => stream.destroy())
        )
        const started = yield* Effect.acquireUseRelease(
          Effect.sync(() => start(key, readable, metadata, witness)),
          ({ finished }) => Effect.promise(() => finished),
          ({ finished, upload }, exit) =>
            exit._tag === "Success" ? Effect.void : stopAndClean(key, readable, finished, upload)
        )
        const failure = started.error
        if (Option.isSome(failure)) {
          yield* abortLeftover(key, started.upload.uploadId).pipe(
            Effect.timeout(CLEANUP_TIMEOUT),
            Effect.catchAll((error) => Effect.logWarning("could not abort a failed multipart upload", { error }))
          )
          if (Option.isSome(witness.bodyFailure)) return yield* Effect.failCause(witness.bodyFailure.value)
          const error = Option.getOrElse(witness.s3Failure, () => failure.value)
          return yield* new UploadFailed({ objectKey: key, detail: describe(error), retryable: isRetryable(error) })
        }
      }).pipe(Effect.scoped, Effect.withSpan("S3FileStore.upload", { attributes: { objectKey: key } }))

    const start = <E>(key: ObjectKey, readable: Readable, metadata: FileMetadata, witness: UploadWitness<E>) => {
      // lib-storage goes on reading the body after one part fails, until the body ends; ending the body at the
      // first failed request stops a long export from running on for nothing.
      const watched = new Proxy(client, {
        get: (target, property, receiver) =>
          property === "send"
            ? (...args: Parameters<S3Client["send"]>) =>
              (target.send.bind(target) as (...a: typeof args) => Promise<unknown>)(...args).catch((error: unknown) => {
                if (Option.isNone(witness.s3Failure)) witness.s3Failure = Option.some(error)
                readable.destroy(error instanceof Error ? error : new Error(String(error)))
                throw error
              })
            : Reflect.get(target, property, receiver) as unknown
      })
      const upload = new Upload({
        client: watched,
        partSize,
        queueSize: uploadConcurrency,
        // The default: on any failure lib-storage itself sends AbortMultipartUpload before `done()` settles.
        leavePartsOnError: false,
        params: {
          Bucket: bucket,
          Key: key,
          Body: readable,
          ContentType: metadata.contentType,
          ContentDisposition: contentDisposition(metadata.downloadName)
        }
      })
      const finished = upload.done().then(
        () => ({ upload, error: Option.none<unknown>() }),
        (error: unknown) => ({ upload, error: Option.some(error) })
      )
      return { upload, finished }
    }

    /**
     * On interruption: end the body, which makes lib-storage let the parts in flight land, then send
     * AbortMultipartUpload, then settle `done()`. We wait for that rather than call `Upload.abort()`, which settles
     * `done()` at once and aborts later in the background, possibly before a part in flight lands (and S3 keeps
     * a part that arrives after the abort).
     */
    const stopAndClean = (
      key: ObjectKey,
      readable: Readable,
      finished: Promise<{ readonly upload: Upload }>,
      upload: Upload
    ) =>
      Effect.sync(() => readable.destroy(new Error("upload interrupted"))).pipe(
        Effect.zipRight(Effect.promise(() => finished)),
        Effect.zipRight(abortLeftover(key, upload.uploadId)),
        Effect.timeout(CLEANUP_TIMEOUT),
        Effect.catchAll((error) => Effect.logWarning("could not abort an interrupted multipart upload", { error }))
      )

    const signDownload = Effect.fn("S3FileStore.signDownload")(
      function*(key: ObjectKey, ttl: Duration.Duration) {
        const refuse = (detail: string) => new LinkSigningFailed({ objectKey: key, detail })
        if (!Duration.isFinite(ttl) || Duration.toMillis(ttl) <= 0) {
          return yield* refuse("ttl must be finite and positive")
        }
        // Refused rather than capped: a shorter link than the expiry we announce would break the promise to the user.
        if (Duration.greaterThan(ttl, MAX_LINK_TTL)) {
          return yield* refuse("ttl exceeds the 7 days a presigned URL lives")
        }
        yield* Effect.tryPromise({
          try: (signal) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
          catch: (error) => refuse(isNotFound(error) ? "no such object" : describe(error))
        })
        const now = yield* Clock.currentTimeMillis
        const expiresAtMillis = now + Duration.toMillis(ttl)
        // SigV4 dates have whole seconds, so the URL counts from the start of the current second; rounding its
        // lifetime up keeps it alive until `expiresAt` (but for the 7-day cap, where it may end < 1 s before).
        const signedAt = Math.floor(now / 1000) * 1000
        const expiresIn = Math.min(
          Duration.toSeconds(MAX_LINK_TTL),
          Math.ceil((expiresAtMillis - signedAt) / 1000)
        )
        const url = yield* Effect.tryPromise({
          try: () =>
            getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
              expiresIn,
              signingDate: new Date(signedAt)
            }),
          catch: (error) => refuse(`cannot sign: ${describe(error)}`)
        })
        return { url, expiresAt: DateTime.unsafeMake(expiresAtMillis) } satisfies SignedLink
      }
    )

    return FileStore.of({ upload, signDownload })
  })

/** The settings from the environment; a missing or malformed one fails start-up with its name. */
export const S3FileStoreConfig: Config.Config<S3FileStoreSettings> = Config.all({
  bucket: Config.nonEmptyString("S3_BUCKET"),
  region: Config.nonEmptyString("S3_REGION").pipe(Config.withDefault("auto")),
  endpoint: Config.option(Config.url("S3_ENDPOINT")),
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
    Config.validate({
      message: `S3_PART_SIZE must be from ${MIN_PART_SIZE} (5 MiB) to ${MAX_PART_SIZE} (5 GiB) bytes`,
      validation: (size) => size >= MIN_PART_SIZE && size <= MAX_PART_SIZE
    })
  ),
  uploadConcurrency: Config.integer("S3_UPLOAD_CONCURRENCY").pipe(
    Config.withDefault(DEFAULT_UPLOAD_CONCURRENCY),
    Config.validate({
      message: `S3_UPLOAD_CONCURRENCY must be from 1 to ${MAX_UPLOAD_CONCURRENCY}`,
      validation: (n) => n >= 1 && n <= MAX_UPLOAD_CONCURRENCY
    })
  )
})

/** The FileStore on S3 with the given settings (tests), and with its client (for a test's own view of the bucket). */
export const layer = (settings: S3FileStoreSettings): Layer.Layer<FileStore | S3, S3FileStoreSetupFailed> =>
  Layer.effect(FileStore, make(settings)).pipe(Layer.provideMerge(S3.layer(settings)))

/** The FileStore on S3 with its settings read from `Config`. */
export const S3FileStoreLive: Layer.Layer<FileStore, S3FileStoreSetupFailed | ConfigError.ConfigError> = Layer
  .unwrapEffect(Effect.map(S3FileStoreConfig, (settings) =>
    Layer.effect(FileStore, make(settings)).pipe(
      Layer.provide(S3.layer(settings))
    )))

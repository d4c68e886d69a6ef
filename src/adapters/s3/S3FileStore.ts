// Finished exports in S3-compatible object storage (Cloudflare R2 in production, AWS S3, path-style endpoints). An
// upload is a multipart upload fed from the stream in bounded memory; a download link is a presigned GET.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand
} from "@aws-sdk/client-s3"
import type { CompletedPart, S3ClientConfig } from "@aws-sdk/client-s3"
import { getSignedUrl } from "@aws-sdk/s3-request-presigner"
import {
  Chunk,
  Clock,
  Context,
  DateTime,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Option,
  Redacted,
  Schedule,
  Stream
} from "effect"
import type { ConfigError, Scope } from "effect"
import type { FileMetadata, SignedLink, Upload } from "../../application/ports/FileStore.js"
import { bytesReader, FileStore } from "../../application/ports/FileStore.js"
import { LinkSigningFailed, UploadFailed } from "../../domain/Errors.js"
import type { ObjectKey } from "../../domain/ExportJob.js"
import { bytesOf, makePartBuffers, partsOf } from "./PartBuffers.js"
import type { Part } from "./PartBuffers.js"
import { linkLifetime, s3FileStoreSettingsConfig, S3FileStoreSetupFailed, settingsProblems } from "./S3Settings.js"
import type { S3FileStoreSettings } from "./S3Settings.js"

// The settings and their rules live in S3Settings, which the API's link signer shares without this module's client.
export {
  DEFAULT_CALL_TIMEOUT,
  DEFAULT_PART_SIZE,
  DEFAULT_UPLOAD_CONCURRENCY,
  MIN_PART_SIZE,
  QUICK_CALL_TIMEOUT,
  s3FileStoreSettingsConfig,
  S3FileStoreSetupFailed
} from "./S3Settings.js"
export type { S3Credentials, S3FileStoreSettings } from "./S3Settings.js"

// One attempt of the SDK's: the connection must open within the first, and a connection that carries nothing either
// way (no byte of the part sent, no byte of the answer received) for the second is given up, and the request tried
// again. An idle limit, not a limit on the whole request: sending a large part takes as long as it takes.
const CONNECTION_TIMEOUT_MILLIS = 5_000
const SOCKET_IDLE_TIMEOUT_MILLIS = 30_000

// After a failure or an interruption, how long we try to abort the multipart upload, every attempt included. Past
// that, the bucket's lifecycle rule (AbortIncompleteMultipartUpload) is what cleans up.
const CLEANUP_TIMEOUT = Duration.seconds(60)
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
  requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MILLIS, socketTimeout: SOCKET_IDLE_TIMEOUT_MILLIS },
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

/**
 * The commands whose bodies are an export's bytes, sent as SigV4's unsigned payload (ADR 49). The SDK otherwise
 * hashes every part (SHA-256) to sign it: a second hash of the whole file, beside the one the job records
 * (WriteFile). Over HTTPS, which R2 and S3 require, TLS already guards the bytes on their way, and S3 takes the value
 * for any request; the signature still covers the request's method, key, upload id, part number and headers.
 */
const UNSIGNED_PAYLOAD_COMMANDS = new Set(["PutObjectCommand", "UploadPartCommand"])
const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

/** Sets the unsigned payload on `client`'s uploads, in the build step: before the signer, which takes it as set. */
const signUploadsWithoutPayload = (client: S3Client): S3Client => {
  client.middlewareStack.add(
    (next, context) => (args) => {
      const request = args.request as { readonly headers?: Record<string, string> }
      if (UNSIGNED_PAYLOAD_COMMANDS.has(context.commandName ?? "") && request.headers !== undefined) {
        request.headers["x-amz-content-sha256"] = UNSIGNED_PAYLOAD
      }
      return next(args)
    },
    { step: "build", name: "exportsUnsignedPayload" }
  )
  return client
}

/** The S3 client the file store calls. */
export class S3 extends Context.Tag("exports/s3/S3Client")<S3, S3Client>() {}

/** The client for `settings`, destroyed (its sockets closed) when the scope closes. */
export const makeClient = (settings: S3FileStoreSettings): Effect.Effect<S3Client, never, Scope.Scope> =>
  // The constructor does no I/O: credentials and endpoints are resolved at the first request.
  Effect.acquireRelease(
    Effect.sync(() => signUploadsWithoutPayload(new S3Client(clientConfig(settings)))),
    (client) => Effect.sync(() => client.destroy())
  )

const clientLayer = (settings: S3FileStoreSettings): Layer.Layer<S3> => Layer.scoped(S3, makeClient(settings))

/**
 * `call` within `limit`, all of the SDK's attempts included, or `onTimeout`. The call is made interruptible inside
 * the limit, so that the limit ends it wherever it runs: in a finalizer, or under `settled`.
 */
const within = <A, E, E2>(call: Effect.Effect<A, E>, limit: Duration.Duration, onTimeout: () => E2) =>
  Effect.interruptible(call).pipe(Effect.timeoutFail({ duration: limit, onTimeout }))

/**
 * Runs `call` to its end, which its own limit bounds, even when the upload fails or is interrupted meanwhile, so that
 * the abort comes after it: S3 may store a part still arriving when its upload is aborted, parts that then cost money
 * until the lifecycle rule (s3rver even re-creates the upload for it). In a fiber of its own, since a fiber passes an
 * interruption on to its children whether or not it is itself interruptible.
 */
const settled = <A, E>(call: Effect.Effect<A, E>) =>
  Effect.uninterruptible(Effect.flatMap(Effect.forkDaemon(call), Fiber.join))

const validate = (settings: S3FileStoreSettings): Effect.Effect<S3FileStoreSettings, S3FileStoreSetupFailed> => {
  const problems = settingsProblems(settings)
  return problems.length === 0
    ? Effect.succeed(settings)
    : Effect.fail(new S3FileStoreSetupFailed({ detail: problems.join("; ") }))
}

export const make = (settings: S3FileStoreSettings) =>
  Effect.gen(function*() {
    const client = yield* S3
    const { bucket, partSize, uploadConcurrency } = yield* validate(settings)

    const { callTimeout, quickCallTimeout } = settings

    /**
     * One S3 request of an upload within `limit`, cancelled on interruption; its failure is the upload's, and a call
     * that times out may pass on a retry.
     */
    const request = <Output>(
      key: ObjectKey,
      operation: string,
      limit: Duration.Duration,
      call: (options: { abortSignal: AbortSignal }) => Promise<Output>
    ) =>
      within(
        Effect.tryPromise({
          try: (signal) => call({ abortSignal: signal }),
          catch: (error) => new UploadFailed({ objectKey: key, detail: describe(error), retryable: isRetryable(error) })
        }),
        limit,
        () =>
          new UploadFailed({
            objectKey: key,
            detail: `${operation}: no answer within ${Duration.format(limit)}`,
            retryable: true
          })
      )

    /**
     * Aborted with a few retries, since a multipart upload left open keeps its parts (and their cost) in the bucket.
     * Each attempt has its limit and all of them CLEANUP_TIMEOUT: it runs as a finalizer, which nothing else can
     * interrupt.
     */
    const abort = (key: ObjectKey, uploadId: string) =>
      Effect.tryPromise({
        try: (signal) =>
          client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), {
            abortSignal: signal
          }),
        catch: (error) => ({ gone: isNotFound(error), retryable: isRetryable(error), detail: describe(error) })
      }).pipe(
        (attempt) =>
          within(attempt, quickCallTimeout, () => ({
            gone: false,
            retryable: true,
            detail: `AbortMultipartUpload: no answer within ${Duration.format(quickCallTimeout)}`
          })),
        Effect.catchIf((error) => error.gone, () => Effect.void),
        Effect.retry({ schedule: abortRetry, while: (error) => error.retryable }),
        Effect.asVoid,
        (attempts) =>
          within(attempts, CLEANUP_TIMEOUT, () => ({
            detail: `AbortMultipartUpload: not done within ${Duration.format(CLEANUP_TIMEOUT)}`
          })),
        Effect.catchAll((error) =>
          Effect.logWarning("could not abort a multipart upload; the bucket's lifecycle rule will", {
            detail: error.detail
          })
        )
      )

    /**
     * The body in parts from a fixed set of `uploadConcurrency + 1` buffers, `uploadConcurrency` parts in flight
     * (ADR 18). The object appears only with CompleteMultipartUpload, after every part has landed; on any failure
     * or interruption no more of the body is read, the parts in flight are let finish (each within its limit) and
     * the multipart upload is aborted, so nothing is visible. A body shorter than one part is a single PutObject.
     * The body's pieces are read (`bytesOf`) as they are copied into parts, one stream step for each pull.
     */
    const upload: Upload = <A, E>(
      key: ObjectKey,
      body: Stream.Stream<A, E>,
      metadata: FileMetadata,
      pieceBytes?: (piece: A) => Uint8Array
    ) =>
      Effect.suspend(() => {
        const target = {
          Bucket: bucket,
          Key: key,
          ContentType: metadata.contentType,
          ContentDisposition: contentDisposition(metadata.downloadName)
        }
        let uploadId: string | undefined

        // Cancelled when the upload is, not let finish as a part is: finishing would publish the file of an upload that
        // failed.
        const putWhole = (part: Part) =>
          request(
            key,
            "PutObject",
            callTimeout,
            (options) => client.send(new PutObjectCommand({ ...target, Body: bytesOf(part) }), options)
          )

        const uploadPart = (id: string, part: Part) =>
          settled(request(key, `UploadPart ${part.number}`, callTimeout, (options) =>
            client.send(
              new UploadPartCommand({
                Bucket: bucket,
                Key: key,
                UploadId: id,
                PartNumber: part.number,
                Body: bytesOf(part)
              }),
              options
            ))).pipe(Effect.map(({ ETag }): CompletedPart => ({ PartNumber: part.number, ETag })))

        return Effect.gen(function*() {
          const buffers = yield* makePartBuffers(partSize, uploadConcurrency + 1)
          // Begun at the first full part, once however many parts ask; let finish so that its id is always known to
          // the abort below.
          const begin = yield* Effect.cached(
            settled(
              request(
                key,
                "CreateMultipartUpload",
                quickCallTimeout,
                (options) => client.send(new CreateMultipartUploadCommand(target), options)
              ).pipe(
                Effect.flatMap(({ UploadId }) =>
                  UploadId === undefined
                    ? new UploadFailed({ objectKey: key, detail: "no UploadId in the answer", retryable: true })
                    : Effect.sync(() => (uploadId = UploadId))
                )
              )
            )
          )
          const parts = yield* partsOf(body, partSize, buffers, bytesReader(pieceBytes)).pipe(
            Stream.mapEffect(
              (part) =>
                part.whole
                  ? Effect.as(putWhole(part), Option.none<CompletedPart>())
                  : begin.pipe(
                    Effect.flatMap((id) => uploadPart(id, part)),
                    Effect.map(Option.some),
                    Effect.ensuring(buffers.give(part.buffer))
                  ),
              { concurrency: uploadConcurrency }
            ),
            Stream.runCollect,
            Effect.map(Chunk.compact)
          )
          if (uploadId === undefined) return
          const id = uploadId
          // Bounded on its own: once the rows have ended, the query's deadline no longer races the upload (ADR 21).
          yield* request(key, "CompleteMultipartUpload", callTimeout, (options) =>
            client.send(
              new CompleteMultipartUploadCommand({
                Bucket: bucket,
                Key: key,
                UploadId: id,
                MultipartUpload: { Parts: Chunk.toArray(parts) }
              }),
              options
            ))
        }).pipe(
          Effect.onExit((exit) => uploadId === undefined || Exit.isSuccess(exit) ? Effect.void : abort(key, uploadId))
        )
      }).pipe(Effect.withSpan("S3FileStore.upload", { attributes: { objectKey: key } }))

    const signDownload = Effect.fn("S3FileStore.signDownload")(
      function*(key: ObjectKey, ttl: Duration.Duration) {
        const refuse = (detail: string) => new LinkSigningFailed({ objectKey: key, detail })
        const tooLong = (operation: string) => () =>
          refuse(`${operation}: no answer within ${Duration.format(quickCallTimeout)}`)
        const { expiresAtMillis, expiresIn, signedAt } = yield* Either.mapLeft(
          linkLifetime(yield* Clock.currentTimeMillis, ttl),
          refuse
        )
        yield* within(
          Effect.tryPromise({
            try: (signal) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
            catch: (error) => refuse(isNotFound(error) ? "no such object" : describe(error))
          }),
          quickCallTimeout,
          tooLong("HeadObject")
        )
        // Signing is local, but its credentials may first have to be fetched (an instance role, SSO, a web identity).
        const url = yield* within(
          Effect.tryPromise({
            try: () =>
              getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
                expiresIn,
                signingDate: new Date(signedAt)
              }),
            catch: (error) => refuse(`cannot sign: ${describe(error)}`)
          }),
          quickCallTimeout,
          tooLong("presigning")
        )
        return { url, expiresAt: DateTime.unsafeMake(expiresAtMillis) } satisfies SignedLink
      }
    )

    const remove = (key: ObjectKey) =>
      Effect.tryPromise({
        try: (signal) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
        catch: describe
      }).pipe(
        (attempt) =>
          within(
            attempt,
            quickCallTimeout,
            () => `DeleteObject: no answer within ${Duration.format(quickCallTimeout)}`
          ),
        Effect.retry({ schedule: abortRetry }),
        Effect.tap(() => Effect.logInfo("object deleted", { objectKey: key })),
        Effect.catchAll((detail) =>
          Effect.logWarning("could not delete an object; the bucket's lifecycle rule will", { objectKey: key, detail })
        ),
        Effect.asVoid
      )

    return FileStore.of({ upload, signDownload, remove })
  })

/** The FileStore on S3 with the given settings (tests), and with its client (for a test's own view of the bucket). */
export const layer = (settings: S3FileStoreSettings): Layer.Layer<FileStore | S3, S3FileStoreSetupFailed> =>
  Layer.effect(FileStore, make(settings)).pipe(Layer.provideMerge(clientLayer(settings)))

/** The FileStore on S3 with its settings read from `Config`. */
export const layerConfig: Layer.Layer<FileStore, S3FileStoreSetupFailed | ConfigError.ConfigError> = Layer
  .unwrapEffect(Effect.map(s3FileStoreSettingsConfig, (settings) =>
    Layer.effect(FileStore, make(settings)).pipe(
      Layer.provide(clientLayer(settings))
    )))

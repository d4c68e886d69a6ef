// The API's file store on S3 or R2 (ADR 61): a download link is a GET presigned with SigV4 alone, and the object's
// presence is checked by a HEAD presigned the same way and sent over Node's own http(s), so that the API loads no
// S3 client at start (the SDK's S3 client was the largest of the four its bundle imported). The links mean what
// `getSignedUrl` made of a GetObjectCommand on S3FileStore's client (a test compares the two on the same settings).
// `upload` and `remove`, which the API never calls, load S3FileStore with its client on their first use.
import { defaultProvider } from "@aws-sdk/credential-provider-node"
import { Hash } from "@smithy/core/serde"
import { SignatureV4 } from "@smithy/signature-v4"
import { Clock, DateTime, Duration, Effect, Either, Option, Redacted, Schedule, Scope } from "effect"
import type { Stream } from "effect"
import * as Http from "node:http"
import * as Https from "node:https"
import type { FileMetadata, SignedLink, Upload } from "../../application/ports/FileStore.js"
import { bytesReader, FileStore } from "../../application/ports/FileStore.js"
import { LinkSigningFailed } from "../../domain/Errors.js"
import type { ObjectKey } from "../../domain/ExportJob.js"
import { linkLifetime, S3FileStoreSetupFailed, settingsProblems } from "./S3Settings.js"
import type { S3FileStoreSettings } from "./S3Settings.js"

/** Where S3's SDK addresses an object: its protocol, host, port and path (the key's segments URI-encoded). */
export interface ObjectAddress {
  readonly protocol: string
  readonly hostname: string
  readonly port: number | undefined
  readonly path: string
}

// A bucket name that can lead a host name (the SDK's isVirtualHostableS3Bucket, without dots: TLS certificates cover
// one label); any other is addressed by path, as the SDK does.
const VIRTUAL_HOSTABLE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/

// The SDK's extendedEncodeURIComponent: RFC 3986's reserved characters that encodeURIComponent leaves are encoded.
const encodeSegment = (segment: string) =>
  encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/**
 * The object's address as the SDK's endpoint rules give it for these settings: `<bucket>.<endpoint>/<key>`, or
 * `<endpoint>/<bucket>/<key>` when path style is forced or the bucket cannot lead a host name; AWS S3's regional
 * endpoint when no endpoint is set.
 */
export const objectAddress = (settings: S3FileStoreSettings, key: string): ObjectAddress => {
  const endpoint = Option.getOrElse(settings.endpoint, () => new URL(`https://s3.${settings.region}.amazonaws.com`))
  const base = endpoint.pathname.replace(/\/+$/, "")
  const keyPath = key.split("/").map(encodeSegment).join("/")
  const pathStyle = settings.forcePathStyle || !VIRTUAL_HOSTABLE.test(settings.bucket)
  return {
    protocol: endpoint.protocol,
    hostname: pathStyle ? endpoint.hostname : `${settings.bucket}.${endpoint.hostname}`,
    port: endpoint.port === "" ? undefined : Number(endpoint.port),
    path: pathStyle ? `${base}/${settings.bucket}/${keyPath}` : `${base}/${keyPath}`
  }
}

/**
 * Presigns `method` on `key` for `expiresIn` seconds from `signedAt`, as the SDK's S3 presigner does: the payload
 * unsigned, the host the only signed header, every `x-amz-` value in the query. GetObject's URL carries the SDK's
 * `x-id=GetObject`, so that a link is the one `getSignedUrl` would have made.
 */
const presignedUrl = async (
  signer: SignatureV4,
  settings: S3FileStoreSettings,
  method: "GET" | "HEAD",
  key: string,
  expiresIn: number,
  signedAt: Date
): Promise<string> => {
  const address = objectAddress(settings, key)
  const host = address.port === undefined ? address.hostname : `${address.hostname}:${address.port}`
  const signed = await signer.presign({
    protocol: address.protocol,
    hostname: address.hostname,
    ...(address.port === undefined ? {} : { port: address.port }),
    path: address.path,
    method,
    query: method === "GET" ? { "x-id": "GetObject" } : {},
    headers: { host, "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD" }
  }, { expiresIn, signingDate: signedAt })
  const query = Object.entries(signed.query ?? {}).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).map((v) =>
      `${encodeSegment(name)}=${encodeSegment(typeof v === "string" ? v : String(v ?? ""))}`
    )
  ).join("&")
  return `${address.protocol}//${host}${address.path}${query === "" ? "" : `?${query}`}`
}

/** Throttling or a server's error: the same HEAD may pass a moment later. */
const isTransient = (status: number) => status === 429 || status >= 500

/** Two more tries of a HEAD after the first, as the SDK's standard retries: jittered, from 100 ms. */
const HEAD_RETRIES = Schedule.exponential(Duration.millis(100)).pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(2))
)

/** The HTTP status of a HEAD on `url`, its body left unread; cancelled with `signal`. */
const headStatus = (url: string, signal: AbortSignal): Promise<number> =>
  new Promise((resolve, reject) => {
    const request = (url.startsWith("https:") ? Https.request : Http.request)(
      url,
      { method: "HEAD", signal },
      (answer) => {
        answer.resume()
        resolve(answer.statusCode ?? 0)
      }
    )
    request.on("error", reject)
    request.end()
  })

/**
 * The signer's credentials: the static keys, read out of their `Redacted` only when a request is signed, or the
 * SDK's default chain (the function's role in AWS), which fetches nothing until the first link.
 */
const credentialsOf = (settings: S3FileStoreSettings) =>
  Option.match(settings.credentials, {
    onNone: () => defaultProvider(),
    onSome: (credentials) => () =>
      Promise.resolve({
        accessKeyId: Redacted.value(credentials.accessKeyId),
        secretAccessKey: Redacted.value(credentials.secretAccessKey)
      })
  })

/** The signer of this store's links, made without an S3 client. Makes no I/O. */
export const makeSigner = (settings: S3FileStoreSettings): SignatureV4 =>
  new SignatureV4({
    service: "s3",
    region: settings.region,
    credentials: credentialsOf(settings),
    sha256: Hash.bind(null, "sha256"),
    // S3 signs the path as sent, and its payload hash is the header's UNSIGNED-PAYLOAD.
    uriEscapePath: false,
    applyChecksum: false
  })

/** The presigned GET of `key` for `expiresIn` seconds from `signedAt`: what the API hands out as a download link. */
export const signGet = (
  signer: SignatureV4,
  settings: S3FileStoreSettings,
  key: string,
  expiresIn: number,
  signedAt: Date
) => presignedUrl(signer, settings, "GET", key, expiresIn, signedAt)

/**
 * The file store on `settings`, checked by S3FileStore's rules: links signed here, uploads and removals through
 * S3FileStore once asked for (in this scope). Makes no I/O and no SDK client.
 */
export const make = (
  settings: S3FileStoreSettings
): Effect.Effect<FileStore["Type"], S3FileStoreSetupFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const problems = settingsProblems(settings)
    if (problems.length > 0) return yield* new S3FileStoreSetupFailed({ detail: problems.join("; ") })
    const { quickCallTimeout } = settings
    const signer = makeSigner(settings)
    const scope = yield* Effect.scope

    // The worker's store, loaded, made and its client closed with this scope on the first upload or remove only.
    const full = yield* Effect.cached(
      Effect.promise(() => import("./S3FileStore.js")).pipe(
        Effect.flatMap((S3FileStore) =>
          Effect.flatMap(S3FileStore.makeClient(settings), (client) =>
            Effect.provideService(S3FileStore.make(settings), S3FileStore.S3, client))
        ),
        // The settings were checked above by the same rules.
        Effect.orDie,
        Scope.extend(scope)
      )
    )

    const upload: Upload = <A, E>(
      key: ObjectKey,
      body: Stream.Stream<A, E>,
      metadata: FileMetadata,
      bytesOf?: (piece: A) => Uint8Array
    ) =>
      Effect.flatMap(full, (store) => store.upload(key, body, metadata, bytesReader(bytesOf)))

    const signDownload = Effect.fn("S3LinkFileStore.signDownload")(
      function*(key: ObjectKey, ttl: Duration.Duration) {
        const refuse = (detail: string) => new LinkSigningFailed({ objectKey: key, detail })
        const within = <A>(
          call: (signal: AbortSignal) => Promise<A>,
          operation: string,
          onError: (error: unknown) => string
        ) =>
          Effect.tryPromise({ try: call, catch: (error) => refuse(onError(error)) }).pipe(
            Effect.timeoutFail({
              duration: quickCallTimeout,
              onTimeout: () => refuse(`${operation}: no answer within ${Duration.format(quickCallTimeout)}`)
            })
          )
        const { expiresAtMillis, expiresIn, signedAt } = yield* Either.mapLeft(
          linkLifetime(yield* Clock.currentTimeMillis, ttl),
          refuse
        )
        // The HEAD's own URL lives only as long as the call may take, from the wall clock's now: it is sent at once,
        // to a server that judges it by its own clock (as the SDK signs a request), whatever `Clock` the link is on.
        // A failed connection, throttling or a 5xx is tried again within the call's limit, as the SDK's client did.
        const headFor = Math.ceil(Duration.toSeconds(quickCallTimeout))
        const attempt = Effect.tryPromise({
          try: (signal) =>
            presignedUrl(signer, settings, "HEAD", key, headFor, new Date()).then((url) => headStatus(url, signal)),
          catch: (error) => `HeadObject: ${describe(error)}`
        }).pipe(
          Effect.filterOrFail((status) => !isTransient(status), (status) => `HeadObject: HTTP ${status}`),
          Effect.retry({ schedule: HEAD_RETRIES })
        )
        const status = yield* attempt.pipe(
          Effect.mapError(refuse),
          Effect.timeoutFail({
            duration: quickCallTimeout,
            onTimeout: () => refuse(`HeadObject: no answer within ${Duration.format(quickCallTimeout)}`)
          })
        )
        if (status === 404) return yield* refuse("no such object")
        if (status !== 200) return yield* refuse(`HeadObject: HTTP ${status}`)
        // Signing is local, but its credentials may first have to be fetched (the function's role).
        const url = yield* within(
          () => signGet(signer, settings, key, expiresIn, new Date(signedAt)),
          "presigning",
          (error) => `cannot sign: ${describe(error)}`
        )
        return { url, expiresAt: DateTime.unsafeMake(expiresAtMillis) } satisfies SignedLink
      }
    )

    const remove = (key: ObjectKey) => Effect.flatMap(full, (store) => store.remove(key))

    return FileStore.of({ upload, signDownload, remove })
  })

const describe = (error: unknown): string => error instanceof Error ? `${error.name}: ${error.message}` : String(error)

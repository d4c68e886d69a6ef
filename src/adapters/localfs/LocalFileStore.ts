// Finished exports on the local disk, for the embedded default. An upload lands in a partial file and appears under
// its key only by an atomic rename; a download link is an HMAC-signed URL that our own HTTP server verifies. Given a
// retention, the store deletes the files older than it, at start and then every hour, as a bucket's lifecycle rule.
import { FileSystem } from "@effect/platform"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { Clock, Context, DateTime, Duration, Effect, Layer, Option, Redacted, Schedule, Schema, Stream } from "effect"
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { rmdir } from "node:fs/promises"
import * as NodePath from "node:path"
import type { FileMetadata, SignedLink, Upload } from "../../application/ports/FileStore.js"
import { bytesReader, FileStore } from "../../application/ports/FileStore.js"
import { LinkSigningFailed, UploadFailed } from "../../domain/Errors.js"
import { ObjectKey } from "../../domain/ExportJob.js"

export interface LocalFileStoreOptions {
  /** The directory every object lives under; created if missing. */
  readonly root: string
  /** Where our HTTP server is reached from a browser, e.g. `http://127.0.0.1:3000`; links go to `<base>/files/...`. */
  readonly publicBaseUrl: string
  /** The HMAC key of download links, at least 32 bytes. */
  readonly secret: Redacted.Redacted<string>
  /**
   * How long an exported file is kept after it was written (FILE_RETENTION, application/Retention.ts); the layer then
   * sweeps older ones away. Without it, files are kept.
   */
  readonly fileRetention?: Duration.Duration | undefined
}

/** Where uploads are written before they are published: under the root, so the final rename stays on one device. */
export const PARTIAL_DIRECTORY = ".partial"

/** The folder under the root every object key starts with (`exports/<merchantId>/<jobId>/attempt-<n>.csv`). */
const EXPORTS_DIRECTORY = "exports"

/** How often the layer sweeps expired files: a file goes at most this long after its retention is over. */
export const expiredFileSweep = Schedule.spaced(Duration.hours(1))

/** The path under `publicBaseUrl` that signed links point at; the HTTP route serves `/files/*`. */
export const FILES_ROUTE = "/files/"

/** A signature checks out but the link's time is over: the HTTP route answers 410 Gone. */
export class LinkExpired extends Schema.TaggedError<LinkExpired>()("LinkExpired", {
  key: Schema.String,
  expiredAt: Schema.DateTimeUtc
}) {}

/**
 * The signature does not match the key and expiry (or the key is not one we would ever sign): 403. It carries
 * nothing of the request, so that no unverified input is echoed back.
 */
export class LinkTampered extends Schema.TaggedError<LinkTampered>()("LinkTampered", {}) {}

/** A genuine, unexpired link to an object that is no longer there: 404. */
export class FileNotFound extends Schema.TaggedError<FileNotFound>()("FileNotFound", {
  key: Schema.String
}) {}

export class LocalFileStoreSetupFailed extends Schema.TaggedError<LocalFileStoreSetupFailed>()(
  "LocalFileStoreSetupFailed",
  { detail: Schema.String }
) {}

/** What the download route needs to answer a verified link. */
export interface SignedFile {
  readonly key: ObjectKey
  /** The absolute path of the data file, for `HttpServerResponse.file`. */
  readonly path: string
  readonly size: number
  readonly contentType: string
  readonly downloadName: string
  /** The bytes, read from disk in 64 KiB chunks when the stream runs. */
  readonly stream: Stream.Stream<Uint8Array, FileNotFound>
}

export interface LocalFilesService {
  /** The absolute root directory. */
  readonly root: string
  readonly upload: Context.Tag.Service<FileStore>["upload"]
  readonly signDownload: Context.Tag.Service<FileStore>["signDownload"]
  readonly remove: Context.Tag.Service<FileStore>["remove"]
  /**
   * Checks a link's signature (in constant time, before touching the disk), then its expiry on the Effect clock,
   * then that the object exists. The arguments are the raw strings of the request: the path after `/files/`
   * (URL-decoded), and the `expires` and `signature` query parameters.
   */
  readonly openSigned: (
    key: string,
    expires: string,
    signature: string
  ) => Effect.Effect<SignedFile, LinkTampered | LinkExpired | FileNotFound>
  /** The object's bytes, if there is one under the key: the test's view of the storage. */
  readonly read: (key: string) => Effect.Effect<Option.Option<Uint8Array>>
  /**
   * Deletes every object (data and metadata) written longer than `retention` ago on the Effect clock, and the job
   * folders it empties; answers how many objects went. Best effort: what cannot be deleted stays for the next sweep.
   */
  readonly sweepExpired: (retention: Duration.Duration) => Effect.Effect<number>
}

const MIN_SECRET_BYTES = 32
const READ_CHUNK = FileSystem.KiB(64)
const METADATA_SUFFIX = ".meta.json"
// A live upload writes at least every few seconds (and a query attempt ends within 10 minutes), so a partial
// file untouched for an hour belongs to a process that died: it is swept when a store starts.
const STALE_PARTIAL_AFTER = Duration.hours(1)
// Exports are merchants' data: only this user may list or read them. Files get their mode when they are created
// (a umask can narrow it, never widen it); directories are set again in case an older version made them wider.
const PRIVATE_DIRECTORY = 0o700
const PRIVATE_FILE = 0o600
const SIGNATURE_SCHEME = "exports-download-v1"

const StoredMetadata = Schema.parseJson(Schema.Struct({ contentType: Schema.String, downloadName: Schema.String }))
const isObjectKey = Schema.is(ObjectKey)
const EXPIRES = /^[0-9]{1,15}$/

interface Target {
  readonly key: ObjectKey
  readonly dataPath: string
  readonly metadataPath: string
}

// Errors a retry a few seconds later might get past; a permission or a path problem will not go away by itself.
const TRANSIENT_REASONS: ReadonlySet<string> = new Set(["Busy", "TimedOut", "WouldBlock", "Unknown"])
const isRetryable = (error: PlatformError): boolean =>
  error._tag === "SystemError" && TRANSIENT_REASONS.has(error.reason)
const isNotFound = (error: PlatformError): boolean => error._tag === "SystemError" && error.reason === "NotFound"

const setupFailed = (detail: string) => new LocalFileStoreSetupFailed({ detail })

const baseUrlOf = (publicBaseUrl: string): Effect.Effect<string, LocalFileStoreSetupFailed> =>
  Effect.try({
    try: () => new URL(publicBaseUrl),
    catch: () => setupFailed(`publicBaseUrl is not a URL: ${publicBaseUrl}`)
  }).pipe(
    Effect.filterOrFail(
      (url) => (url.protocol === "http:" || url.protocol === "https:") && url.search === "" && url.hash === "",
      () => setupFailed(`publicBaseUrl must be an http(s) URL without query or fragment: ${publicBaseUrl}`)
    ),
    Effect.map((url) => url.href.replace(/\/+$/, ""))
  )

export const make = (options: LocalFileStoreOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const root = NodePath.resolve(options.root)
    const partialDirectory = NodePath.join(root, PARTIAL_DIRECTORY)
    const baseUrl = yield* baseUrlOf(options.publicBaseUrl)
    if (Buffer.byteLength(Redacted.value(options.secret), "utf8") < MIN_SECRET_BYTES) {
      return yield* setupFailed(`the link signing secret must be at least ${MIN_SECRET_BYTES} bytes long`)
    }
    yield* fs.makeDirectory(partialDirectory, { recursive: true, mode: PRIVATE_DIRECTORY }).pipe(
      Effect.zipRight(fs.chmod(root, PRIVATE_DIRECTORY)),
      Effect.zipRight(fs.chmod(partialDirectory, PRIVATE_DIRECTORY)),
      Effect.mapError((error) => setupFailed(`cannot create ${partialDirectory} (mode 0700): ${error.message}`))
    )
    yield* sweepStalePartials(fs, partialDirectory)

    /** The paths of a key, or None when the key is not an object key or would leave the root. */
    const targetOf = (key: string): Option.Option<Target> => {
      if (!isObjectKey(key)) return Option.none()
      const dataPath = NodePath.resolve(root, ...key.split("/"))
      const relative = NodePath.relative(root, dataPath)
      // The ObjectKey pattern already excludes "..", absolute paths and dot folders; this holds even if it widens.
      const [first] = relative.split(NodePath.sep)
      if (relative === "" || NodePath.isAbsolute(relative) || first === ".." || first === PARTIAL_DIRECTORY) {
        return Option.none()
      }
      return Option.some({ key, dataPath, metadataPath: dataPath + METADATA_SUFFIX })
    }

    // The key and the expiry, on separate lines: neither can contain a newline, so no two pairs share a string.
    const signatureOf = (key: string, expires: string): string =>
      createHmac("sha256", Redacted.value(options.secret))
        .update(`${SIGNATURE_SCHEME}\n${key}\n${expires}`, "utf8")
        .digest("base64url")

    const upload: Upload = <A, E>(
      key: ObjectKey,
      body: Stream.Stream<A, E>,
      metadata: FileMetadata,
      bytesOf?: (piece: A) => Uint8Array
    ) =>
      Effect.gen(function*() {
        const read = bytesReader(bytesOf)
        const failed = (step: string) => (error: PlatformError) =>
          new UploadFailed({ objectKey: key, detail: `${step}: ${error.message}`, retryable: isRetryable(error) })
        const target = yield* Option.match(targetOf(key), {
          onNone: () => Effect.fail(new UploadFailed({ objectKey: key, detail: "not a valid key", retryable: false })),
          onSome: Effect.succeed
        })
        const name = randomBytes(12).toString("hex")
        const partialData = NodePath.join(partialDirectory, `${name}.data`)
        const partialMetadata = NodePath.join(partialDirectory, name + METADATA_SUFFIX)

        const write = Effect.gen(function*() {
          // Recreated on every upload in case someone cleared the root while we run.
          yield* fs.makeDirectory(partialDirectory, { recursive: true, mode: PRIVATE_DIRECTORY }).pipe(
            Effect.mapError(failed("mkdir"))
          )
          yield* Effect.scoped(Effect.gen(function*() {
            const file = yield* fs.open(partialData, { flag: "wx", mode: PRIVATE_FILE }).pipe(
              Effect.mapError(failed("open"))
            )
            // One chunk is written before the next is pulled: the body waits for the disk, memory stays flat, and a
            // lent piece is written before the body may write over it (FileStore's Upload).
            // Each write is uninterruptible so that the descriptor is never closed under a write in flight.
            yield* Stream.runForEach(body, (piece) => {
              const chunk = read(piece)
              return chunk.length === 0
                ? Effect.void
                : Effect.uninterruptible(file.writeAll(chunk)).pipe(Effect.mapError(failed("write")))
            })
            yield* file.sync.pipe(Effect.mapError(failed("fsync")))
          }))
          yield* fs.writeFileString(partialMetadata, JSON.stringify(metadata), { flag: "wx", mode: PRIVATE_FILE }).pipe(
            Effect.mapError(failed("write metadata"))
          )
          yield* fs.makeDirectory(NodePath.dirname(target.dataPath), { recursive: true, mode: PRIVATE_DIRECTORY }).pipe(
            Effect.mapError(failed("mkdir"))
          )
          // The metadata goes first and the data last: the data file is what makes an object exist, so a reader
          // never finds data without its metadata. The pair is uninterruptible so that it is never cut in two; an
          // interruption arriving during it takes effect after, with the object already published.
          yield* Effect.uninterruptible(
            fs.rename(partialMetadata, target.metadataPath).pipe(
              Effect.zipRight(fs.rename(partialData, target.dataPath)),
              Effect.mapError(failed("rename"))
            )
          )
        })

        yield* write.pipe(
          Effect.onError(() =>
            Effect.forEach(
              [partialData, partialMetadata],
              (path) => fs.remove(path, { force: true }).pipe(Effect.ignore),
              { discard: true }
            )
          )
        )
      }).pipe(Effect.withSpan("LocalFileStore.upload", { attributes: { objectKey: key } }))

    const signDownload = Effect.fn("LocalFileStore.signDownload")(
      function*(key: ObjectKey, ttl: Duration.Duration) {
        const refuse = (detail: string) => new LinkSigningFailed({ objectKey: key, detail })
        const target = yield* Option.match(targetOf(key), {
          onNone: () => Effect.fail(refuse("not a valid key")),
          onSome: Effect.succeed
        })
        if (!Duration.isFinite(ttl) || Duration.toMillis(ttl) <= 0) {
          return yield* refuse("ttl must be finite and positive")
        }
        const exists = yield* fs.stat(target.dataPath).pipe(
          Effect.map((info) => info.type === "File"),
          Effect.catchAll((error) => isNotFound(error) ? Effect.succeed(false) : Effect.fail(refuse(error.message)))
        )
        if (!exists) return yield* refuse("no such object")
        const expiresAtMillis = (yield* Clock.currentTimeMillis) + Duration.toMillis(ttl)
        // The URL carries whole seconds; rounding up means the link never dies before the `expiresAt` we announce.
        const expires = String(Math.ceil(expiresAtMillis / 1000))
        const url = `${baseUrl}${FILES_ROUTE}${key}?expires=${expires}&signature=${signatureOf(key, expires)}`
        return { url, expiresAt: DateTime.unsafeMake(expiresAtMillis) } satisfies SignedLink
      }
    )

    const readMetadata = (target: Target): Effect.Effect<FileMetadata> =>
      fs.readFileString(target.metadataPath).pipe(
        Effect.flatMap(Schema.decodeUnknown(StoredMetadata)),
        // A missing or damaged sidecar should not make the file itself unreachable.
        Effect.orElseSucceed(() => ({
          contentType: "application/octet-stream",
          downloadName: NodePath.basename(target.dataPath)
        }))
      )

    const openSigned = Effect.fn("LocalFileStore.openSigned")(
      function*(key: string, expires: string, signature: string) {
        if (!sameText(signature, signatureOf(key, expires))) return yield* new LinkTampered()
        const target = targetOf(key)
        // Only keys and expiries we signed get here, so these never fail unless the secret has leaked.
        if (Option.isNone(target) || !EXPIRES.test(expires)) return yield* new LinkTampered()
        const expiresAtMillis = Number(expires) * 1000
        if ((yield* Clock.currentTimeMillis) >= expiresAtMillis) {
          return yield* new LinkExpired({ key, expiredAt: DateTime.unsafeMake(expiresAtMillis) })
        }
        const { dataPath } = target.value
        const notFound = new FileNotFound({ key })
        const info = yield* fs.stat(dataPath).pipe(
          Effect.catchAll((error) => isNotFound(error) ? Effect.fail(notFound) : Effect.die(error))
        )
        if (info.type !== "File") return yield* notFound
        const metadata = yield* readMetadata(target.value)
        return {
          key: target.value.key,
          path: dataPath,
          size: Number(info.size),
          contentType: metadata.contentType,
          downloadName: metadata.downloadName,
          stream: fs.stream(dataPath, { chunkSize: READ_CHUNK }).pipe(
            Stream.catchAll((error) => isNotFound(error) ? Stream.fail(notFound) : Stream.die(error))
          )
        } satisfies SignedFile
      }
    )

    const read = (key: string): Effect.Effect<Option.Option<Uint8Array>> =>
      Option.match(targetOf(key), {
        onNone: () => Effect.succeedNone,
        onSome: (target) =>
          fs.readFile(target.dataPath).pipe(
            Effect.map(Option.some),
            Effect.catchAll((error) => isNotFound(error) ? Effect.succeedNone : Effect.die(error))
          )
      })

    const sweepExpired = (retention: Duration.Duration) =>
      Effect.gen(function*() {
        const cutoff = (yield* Clock.currentTimeMillis) - Duration.toMillis(retention)
        const exportsDirectory = NodePath.join(root, EXPORTS_DIRECTORY)
        let deleted = 0
        for (const merchant of yield* directoriesIn(fs, exportsDirectory)) {
          const merchantDirectory = NodePath.join(exportsDirectory, merchant)
          // Files directly in a merchant's folder were written before files were kept per attempt.
          deleted += yield* sweepObjects(fs, merchantDirectory, cutoff)
          for (const job of yield* directoriesIn(fs, merchantDirectory)) {
            const jobDirectory = NodePath.join(merchantDirectory, job)
            const gone = yield* sweepObjects(fs, jobDirectory, cutoff)
            deleted += gone
            // Only a folder whose files this sweep deleted: the job finished long ago, so no upload of it is under
            // way, and rmdir refuses a folder that is not empty. A merchant's folder stays: its next job may be
            // about to upload into it.
            if (gone > 0) yield* Effect.ignore(Effect.tryPromise(() => rmdir(jobDirectory)))
          }
        }
        if (deleted > 0) yield* Effect.logInfo("deleted expired export files", { deleted })
        return deleted
      }).pipe(Effect.withSpan("LocalFileStore.sweepExpired"))

    // The data first: it is what makes an object exist, so no reader finds data without its metadata.
    const remove = (key: ObjectKey) =>
      Option.match(targetOf(key), {
        onNone: () => Effect.void,
        onSome: (target) =>
          Effect.forEach([target.dataPath, target.metadataPath], (path) => fs.remove(path, { force: true }), {
            discard: true
          }).pipe(
            Effect.tap(() => Effect.logInfo("file deleted", { objectKey: key })),
            Effect.catchAll((error) =>
              Effect.logWarning("could not delete a file; the retention sweep will", {
                objectKey: key,
                error: error.message
              })
            )
          )
      })

    return { root, upload, signDownload, remove, openSigned, read, sweepExpired } satisfies LocalFilesService
  })

/** The folders directly in `directory`; none when it cannot be read (it may not exist yet). */
const directoriesIn = (fs: FileSystem.FileSystem, directory: string) =>
  fs.readDirectory(directory).pipe(
    Effect.flatMap((names) =>
      Effect.filter(names, (name) =>
        fs.stat(NodePath.join(directory, name)).pipe(
          Effect.map((info) => info.type === "Directory"),
          Effect.orElseSucceed(() => false)
        ))
    ),
    Effect.orElseSucceed((): ReadonlyArray<string> => [])
  )

/**
 * Deletes the objects in `directory` whose data file was last written before `cutoff`: the data first (an object
 * exists by its data), then its metadata; then metadata left without data (a crash between the two deletions)
 * once it is as old. Answers how many objects went.
 */
const sweepObjects = (fs: FileSystem.FileSystem, directory: string, cutoff: number) =>
  Effect.gen(function*() {
    const names = yield* fs.readDirectory(directory).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
    const writtenBeforeCutoff = (path: string) =>
      fs.stat(path).pipe(
        Effect.map((info) => info.type === "File" && Option.exists(info.mtime, (mtime) => mtime.getTime() < cutoff)),
        Effect.orElseSucceed(() => false)
      )
    const remove = (path: string) =>
      fs.remove(path, { force: true }).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
    let deleted = 0
    for (const name of names.filter((name) => !name.endsWith(METADATA_SUFFIX))) {
      const dataPath = NodePath.join(directory, name)
      if (!(yield* writtenBeforeCutoff(dataPath)) || !(yield* remove(dataPath))) continue
      deleted++
      yield* remove(dataPath + METADATA_SUFFIX)
    }
    for (const name of names.filter((name) => name.endsWith(METADATA_SUFFIX))) {
      const metadataPath = NodePath.join(directory, name)
      const dataExists = yield* fs.exists(metadataPath.slice(0, -METADATA_SUFFIX.length)).pipe(
        Effect.orElseSucceed(() => true)
      )
      if (!dataExists && (yield* writtenBeforeCutoff(metadataPath))) yield* remove(metadataPath)
    }
    return deleted
  })

/**
 * Equal strings, compared in constant time: both sides are hashed first, so `timingSafeEqual` always compares
 * 32 bytes and a short, long or nearly right signature takes as long to refuse as any other.
 */
const sameText = (given: string, expected: string): boolean =>
  timingSafeEqual(
    createHash("sha256").update(given, "utf8").digest(),
    createHash("sha256").update(expected, "utf8").digest()
  )

/** Removes what uploads of a dead process left behind. Best effort: a file that cannot be removed stays. */
const sweepStalePartials = (fs: FileSystem.FileSystem, partialDirectory: string) =>
  Effect.gen(function*() {
    const cutoff = (yield* Clock.currentTimeMillis) - Duration.toMillis(STALE_PARTIAL_AFTER)
    const names = yield* fs.readDirectory(partialDirectory)
    yield* Effect.forEach(names, (name) => {
      const path = NodePath.join(partialDirectory, name)
      return fs.stat(path).pipe(
        Effect.flatMap((info) =>
          Option.exists(info.mtime, (mtime) => mtime.getTime() < cutoff)
            ? fs.remove(path, { force: true })
            : Effect.void
        ),
        Effect.ignore
      )
    }, { discard: true })
  }).pipe(
    Effect.catchAll((error) => Effect.logWarning("could not sweep stale partial uploads", { error: error.message }))
  )

/** The local file store itself, with what the download route needs beside the `FileStore` port it also provides. */
export class LocalFiles extends Context.Tag("exports/localfs/LocalFiles")<LocalFiles, LocalFilesService>() {}

/**
 * The FileStore and the LocalFiles behind it, both from one instance; with `fileRetention`, a sweep of expired files
 * at start and on `expiredFileSweep` for as long as the layer lives.
 */
export const layer = (
  options: LocalFileStoreOptions
): Layer.Layer<FileStore | LocalFiles, LocalFileStoreSetupFailed> =>
  Layer.effect(
    FileStore,
    Effect.map(LocalFiles, (files) =>
      FileStore.of({ upload: files.upload, signDownload: files.signDownload, remove: files.remove }))
  ).pipe(
    Layer.provideMerge(Layer.scoped(
      LocalFiles,
      Effect.tap(make(options), (files) => {
        const retention = options.fileRetention
        return retention === undefined
          ? Effect.void
          : Effect.forkScoped(Effect.repeat(files.sweepExpired(retention), expiredFileSweep))
      })
    )),
    Layer.provide(NodeFileSystem.layer)
  )

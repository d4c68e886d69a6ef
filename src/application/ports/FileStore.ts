import type { DateTime, Effect, Stream } from "effect"
import { Context, Duration } from "effect"
import type { LinkSigningFailed, UploadFailed } from "../../domain/Errors.js"
import type { ObjectKey } from "../../domain/ExportJob.js"

/**
 * The longest a signed download link may live: SigV4 presigned URLs, which S3 and R2 sign, cannot last longer, and
 * every store keeps the same limit so that a setting valid on one is valid on all.
 */
export const MAX_LINK_TTL = Duration.days(7)

export interface FileMetadata {
  readonly contentType: string
  /** The name a browser saves the file under (Content-Disposition: attachment). */
  readonly downloadName: string
}

export interface SignedLink {
  readonly url: string
  readonly expiresAt: DateTime.Utc
}

/**
 * Stores `body` under `key`. A body of pieces other than bytes is read through `bytesOf`, which the store calls once
 * for each piece, in the body's order, as it takes the piece in, and before the object can appear: the caller's place
 * to count and hash what it uploads without a stream step of its own (an export's rows, its SHA-256; each step costs
 * Effect's runtime a turn for every pull of the body, docs/performance.md).
 *
 * The pieces' bytes are lent, not given: they are the store's to read only until it pulls the body again (or lets
 * it go), and the body may then write its next pull over them. A store copies or writes every piece of a pull before
 * its next pull, and keeps none of them beyond it: so a source can hand on views of a buffer it reuses, with no copy
 * and no garbage per pull (ADR 57; the contract suite overwrites each pull's bytes at the next).
 */
export interface Upload {
  <E>(key: ObjectKey, body: Stream.Stream<Uint8Array, E>, metadata: FileMetadata): Effect.Effect<void, UploadFailed | E>
  <A, E>(
    key: ObjectKey,
    body: Stream.Stream<A, E>,
    metadata: FileMetadata,
    bytesOf: (piece: A) => Uint8Array
  ): Effect.Effect<void, UploadFailed | E>
}

/**
 * The bytes of an upload's pieces: `bytesOf` when the caller gave one, else the pieces themselves, which `Upload`'s
 * first form types as bytes. For the adapters.
 */
export const bytesReader = <A>(bytesOf: ((piece: A) => Uint8Array) | undefined): (piece: A) => Uint8Array =>
  bytesOf ?? ((piece) => piece as Uint8Array)

/**
 * Object storage for finished exports. `upload` publishes the object only if the whole body arrived: when the
 * body fails or the upload is interrupted, nothing is left under the key.
 */
export class FileStore extends Context.Tag("exports/FileStore")<FileStore, {
  readonly upload: Upload
  readonly signDownload: (key: ObjectKey, ttl: Duration.Duration) => Effect.Effect<SignedLink, LinkSigningFailed>
  /**
   * Deletes the object under `key`, if there is one: a file that no record will name (its export was cancelled
   * as its upload completed). Best effort: a failure is the adapter's to log, and the lifecycle rule expires it.
   */
  readonly remove: (key: ObjectKey) => Effect.Effect<void>
}>() {}

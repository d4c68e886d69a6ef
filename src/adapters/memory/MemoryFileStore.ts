// Files in memory, published only once their whole body has arrived, with links that expire like presigned
// ones: `open` refuses a link past its expiry, read on the Effect clock.
import { Clock, DateTime, Duration, Effect, Layer, Option, Ref, Stream } from "effect"
import { bytesReader, FileStore } from "../../application/ports/FileStore.js"
import type { FileMetadata, Upload } from "../../application/ports/FileStore.js"
import { LinkSigningFailed, UploadFailed } from "../../domain/Errors.js"
import type { ObjectKey } from "../../domain/ExportJob.js"
import { FaultInjection } from "./FaultInjection.js"

export interface StoredFile extends FileMetadata {
  readonly bytes: Uint8Array
}

const LINK_PREFIX = "memory://files/"

export type LinkProblem = "expired" | "not-found" | "malformed"

const concat = (parts: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const part of parts) {
    bytes.set(part, offset)
    offset += part.length
  }
  return bytes
}

/** The files themselves, for the FileStore this module's `layer` makes and for a test or the simulator to read back. */
export class MemoryFiles extends Effect.Service<MemoryFiles>()("exports/memory/MemoryFiles", {
  effect: Effect.gen(function*() {
    const faults = yield* FaultInjection
    const files = yield* Ref.make(new Map<string, StoredFile>())
    const uploadsStarted = yield* Ref.make(0)

    const upload: Upload = <A, E>(
      key: ObjectKey,
      body: Stream.Stream<A, E>,
      metadata: FileMetadata,
      bytesOf?: (piece: A) => Uint8Array
    ) =>
      Effect.gen(function*() {
        const read = bytesReader(bytesOf)
        yield* Ref.update(uploadsStarted, (n) => n + 1)
        const fault = yield* faults.fire("upload")
        const parts: Array<Uint8Array> = []
        let size = 0
        yield* Stream.runForEach(body, (piece) =>
          Effect.suspend(() => {
            const part = read(piece)
            if (Option.isSome(fault) && size + part.length > fault.value.afterBytes) {
              return Effect.fail(
                new UploadFailed({
                  objectKey: key,
                  detail: "injected fault: upload failed",
                  retryable: fault.value.retryable
                })
              )
            }
            // A copy: the piece's bytes are lent until the next pull (FileStore's Upload), and these are kept.
            parts.push(part.slice())
            size += part.length
            return Effect.void
          }))
        yield* Ref.update(files, (map) => new Map(map).set(key, { ...metadata, bytes: concat(parts, size) }))
      })

    const signDownload = (key: ObjectKey, ttl: Duration.Duration) =>
      Effect.gen(function*() {
        if (Option.isSome(yield* faults.fire("signing"))) {
          return yield* new LinkSigningFailed({ objectKey: key, detail: "injected fault: signing failed" })
        }
        if (!(yield* Ref.get(files)).has(key)) {
          return yield* new LinkSigningFailed({ objectKey: key, detail: "no such object" })
        }
        const expiresAt = DateTime.unsafeMake((yield* Clock.currentTimeMillis) + Duration.toMillis(ttl))
        return { url: `${LINK_PREFIX}${key}?expires=${DateTime.toEpochMillis(expiresAt)}`, expiresAt }
      })

    const remove = (key: ObjectKey) =>
      Ref.update(files, (map) => {
        const next = new Map(map)
        next.delete(key)
        return next
      })

    return {
      upload,
      signDownload,
      remove,
      /** The stored file, as a test or the simulator reads it back. */
      read: (key: string) => Effect.map(Ref.get(files), (map) => Option.fromNullable(map.get(key))),
      keys: Effect.map(Ref.get(files), (map) => Array.from(map.keys())),
      uploadsStarted: Ref.get(uploadsStarted),
      /** Follows a signed link as a browser would. */
      open: (url: string): Effect.Effect<StoredFile, LinkProblem> =>
        Effect.gen(function*() {
          const match = /^memory:\/\/files\/([^?]+)\?expires=(\d+)$/.exec(url)
          if (match === null) return yield* Effect.fail("malformed" as const)
          if ((yield* Clock.currentTimeMillis) >= Number(match[2])) return yield* Effect.fail("expired" as const)
          const file = (yield* Ref.get(files)).get(match[1]!)
          return file === undefined ? yield* Effect.fail("not-found" as const) : file
        })
    }
  })
}) {}

/** The FileStore on the MemoryFiles in context. */
export const layer = Layer.effect(
  FileStore,
  Effect.map(
    MemoryFiles,
    (store) => FileStore.of({ upload: store.upload, signDownload: store.signDownload, remove: store.remove })
  )
)

// The behaviour every FileStore must have: an object appears only once its whole body has arrived, and links
// expire a ttl after the Effect clock's now. `readBack` is the test's own view of the storage (a GetObject on S3).
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Data, DateTime, Deferred, Duration, Effect, Exit, Fiber, Option, Stream, TestClock } from "effect"
import type { Layer } from "effect"
import { FileStore } from "../../src/application/ports/FileStore.js"
import type { FileMetadata } from "../../src/application/ports/FileStore.js"
import type { ObjectKey } from "../../src/domain/ExportJob.js"
import { lentBytes, lentPieces } from "../support/LentPieces.js"
import { freshObjectKey } from "./ContractSupport.js"

/** Reads the object stored under a key, if any, bypassing the port. */
export type ReadBack<R> = (key: ObjectKey) => Effect.Effect<Option.Option<Uint8Array>, never, R>

class BodyBroke extends Data.TaggedError("BodyBroke")<{ readonly afterChunks: number }> {}

const metadata: FileMetadata = {
  contentType: "text/csv; charset=utf-8",
  downloadName: "orders_2024-01-01_2024-03-31.csv"
}

/** A key no other test (or earlier run against the same bucket) uses. */
const freshKey = freshObjectKey

/** Every byte value, in an order that differs from chunk to chunk, so a dropped or reordered chunk shows. */
const chunkOf = (size: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed * 7) % 256)

const CHUNKS: ReadonlyArray<Uint8Array> = [
  new TextEncoder().encode("\uFEFFOrder ID,Line\r\n"),
  chunkOf(65_536, 1),
  new Uint8Array(0),
  chunkOf(1, 2),
  chunkOf(200_003, 3),
  chunkOf(17, 4)
]

/**
 * A body of ~20 MiB in pulls of one to three pieces (four S3 parts of S3's smallest size, so that the part
 * buffers fill and wait while pieces of a pull are still to be copied), every piece's bytes its own.
 */
const LENT_PULLS: ReadonlyArray<ReadonlyArray<Uint8Array>> = Array.from(
  { length: 60 },
  (_, pull) =>
    Array.from({ length: pull % 3 + 1 }, (_, i) => chunkOf(100_000 + 37_001 * ((pull + i) % 5), pull * 3 + i))
)

const concatenated = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => Buffer.concat(chunks)

const expectBytes = (actual: Option.Option<Uint8Array>, expected: Uint8Array): void => {
  expect(Option.isSome(actual)).toBe(true)
  const bytes = Option.getOrThrow(actual)
  expect(bytes.length).toBe(expected.length)
  expect(Buffer.compare(Buffer.from(bytes), Buffer.from(expected))).toBe(0)
}

export const fileStoreContract = <R, E>(
  name: string,
  makeLayer: () => Layer.Layer<FileStore | R, E>,
  readBack: ReadBack<R>
) =>
  describe(`FileStore contract: ${name}`, () => {
    const withStore = <A, E2>(test: Effect.Effect<A, E2, FileStore | R>) => Effect.provide(test, makeLayer())

    it.effect("an uploaded multi-chunk stream reads back byte for byte", () =>
      withStore(Effect.gen(function*() {
        const store = yield* FileStore
        const key = freshKey()
        yield* store.upload(key, Stream.fromIterable(CHUNKS), metadata)
        expectBytes(yield* readBack(key), concatenated(CHUNKS))
      })))

    it.effect("a body of other pieces is read through bytesOf: once a piece, in order, all before the upload ends", () =>
      withStore(Effect.gen(function*() {
        const store = yield* FileStore
        const key = freshKey()
        const pieces = CHUNKS.map((bytes, index) => ({ index, bytes }))
        const read: Array<number> = []
        yield* store.upload(key, Stream.fromIterable(pieces), metadata, (piece) => {
          read.push(piece.index)
          return piece.bytes
        })
        expect(read).toStrictEqual(pieces.map((piece) => piece.index))
        expectBytes(yield* readBack(key), concatenated(CHUNKS))
      })))

    // FileStore's Upload: a piece's bytes are lent until the store pulls the body again (ADR 57).
    it.effect("pieces are lent: a body that writes each pull over the last one's bytes is stored as it was pulled", () =>
      withStore(Effect.gen(function*() {
        const store = yield* FileStore
        const key = freshKey()
        const body = lentBytes(Stream.fromChunks(...LENT_PULLS.map((pull) => Chunk.unsafeFromArray([...pull]))))
        yield* store.upload(key, body, metadata)
        expectBytes(yield* readBack(key), concatenated(LENT_PULLS.flat()))
      })))

    it.effect("pieces read through bytesOf are lent too: stored as they were when the store pulled them", () =>
      withStore(Effect.gen(function*() {
        const store = yield* FileStore
        const key = freshKey()
        const pulls = LENT_PULLS.map((pull) => Chunk.unsafeFromArray(pull.map((bytes, index) => ({ index, bytes }))))
        const body = lentPieces(Stream.fromChunks(...pulls), (piece) => piece.bytes, (piece, bytes) => ({
          ...piece,
          bytes
        }))
        yield* store.upload(key, body, metadata, (piece) => piece.bytes)
        expectBytes(yield* readBack(key), concatenated(LENT_PULLS.flat()))
      })))

    it.effect("uploading again under a key replaces the object", () =>
      withStore(Effect.gen(function*() {
        const store = yield* FileStore
        const key = freshKey()
        yield* store.upload(key, Stream.fromIterable(CHUNKS), metadata)
        const second = [chunkOf(10, 9), chunkOf(20, 8)]
        yield* store.upload(key, Stream.fromIterable(second), metadata)
        expectBytes(yield* readBack(key), concatenated(second))
      })))

    it.effect("a body that fails midway leaves no object, and its error comes out of upload unchanged", () =>
      withStore(Effect.gen(function*() {
        const store = yield* FileStore
        const key = freshKey()
        const broke = new BodyBroke({ afterChunks: 3 })
        const body = Stream.concat(Stream.fromIterable(CHUNKS.slice(0, 3)), Stream.fail(broke))
        const error = yield* Effect.flip(store.upload(key, body, metadata))
        expect(error).toBe(broke)
        expect(Option.isNone(yield* readBack(key))).toBe(true)
      })))

    it.effect("an interrupted upload leaves no object", () =>
      withStore(Effect.gen(function*() {
        const store = yield* FileStore
        const key = freshKey()
        const bodyStarted = yield* Deferred.make<void>()
        // Some bytes go out, then the body waits for ever: the upload is under way when it is interrupted.
        const body = Stream.fromIterable(CHUNKS.slice(0, 2)).pipe(
          Stream.concat(Stream.fromEffect(Deferred.succeed(bodyStarted, undefined)).pipe(Stream.drain)),
          Stream.concat(Stream.never)
        )
        const upload = yield* Effect.fork(store.upload(key, body, metadata))
        yield* Deferred.await(bodyStarted)
        const exit = yield* Fiber.interrupt(upload)
        expect(Exit.isInterrupted(exit)).toBe(true)
        expect(Option.isNone(yield* readBack(key))).toBe(true)
      })))

    it.effect("signDownload of an uploaded key returns a link that expires ttl after now", () =>
      withStore(Effect.gen(function*() {
        const store = yield* FileStore
        const key = freshKey()
        yield* TestClock.setTime(Date.parse("2024-05-06T07:08:09.010Z"))
        yield* store.upload(key, Stream.fromIterable(CHUNKS), metadata)
        for (const ttl of [Duration.minutes(15), Duration.days(7)]) {
          const now = yield* DateTime.now
          const link = yield* store.signDownload(key, ttl)
          expect(DateTime.toEpochMillis(link.expiresAt)).toBe(DateTime.toEpochMillis(now) + Duration.toMillis(ttl))
          expect(() => new URL(link.url)).not.toThrow()
          yield* TestClock.adjust(Duration.hours(1))
        }
      })))

    it.effect("signDownload of a key never uploaded fails with LinkSigningFailed", () =>
      withStore(Effect.gen(function*() {
        const store = yield* FileStore
        const key = freshKey()
        const error = yield* Effect.flip(store.signDownload(key, Duration.minutes(15)))
        expect(error._tag).toBe("LinkSigningFailed")
        expect(error.objectKey).toBe(key)
      })))

    it.effect("signDownload after a failed upload fails with LinkSigningFailed", () =>
      withStore(Effect.gen(function*() {
        const store = yield* FileStore
        const key = freshKey()
        const body = Stream.concat(
          Stream.fromIterable(CHUNKS.slice(0, 2)),
          Stream.fail(new BodyBroke({ afterChunks: 2 }))
        )
        yield* Effect.flip(store.upload(key, body, metadata))
        const error = yield* Effect.flip(store.signDownload(key, Duration.minutes(15)))
        expect(error._tag).toBe("LinkSigningFailed")
      })))
  })

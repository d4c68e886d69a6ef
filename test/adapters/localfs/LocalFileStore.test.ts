// What the contract does not cover: signed links as the download route checks them, the partial directory left
// clean, keys that try to leave the root, a large body streamed to disk, and modes only this user can read.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Data, Deferred, Duration, Effect, Exit, Fiber, Option, Redacted, Stream, TestClock } from "effect"
import { createHash } from "node:crypto"
import { chmodSync, createReadStream, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs"
import * as NodePath from "node:path"
import * as LocalFileStore from "../../../src/adapters/localfs/LocalFileStore.js"
import { FILES_ROUTE, LocalFiles, PARTIAL_DIRECTORY } from "../../../src/adapters/localfs/LocalFileStore.js"
import type { FileStore } from "../../../src/application/ports/FileStore.js"
import type { FileMetadata, SignedLink } from "../../../src/application/ports/FileStore.js"
import type { ObjectKey } from "../../../src/domain/ExportJob.js"
import { freshObjectKey } from "../../contracts/ContractSupport.js"
import { allPrivate, modesUnder } from "../../support/FileModes.js"
import { flipFirst } from "../../support/Tampering.js"
import { localFileStoreInTempDir, PUBLIC_BASE_URL, SECRET, temporaryDirectory } from "./LocalFsSupport.js"

class BodyBroke extends Data.TaggedError("BodyBroke")<{ readonly afterChunks: number }> {}

const metadata: FileMetadata = { contentType: "text/csv; charset=utf-8", downloadName: "orders_Q1.csv" }
const CONTENT = new TextEncoder().encode("Order ID,Total\r\n1,9.99\r\n2,19.50\r\n")
const START = Date.parse("2024-05-06T07:08:09.010Z")
const TTL = Duration.minutes(15)

const freshKey = freshObjectKey

/** The three strings the download route takes from a request. */
const partsOf = (link: SignedLink) => {
  const url = new URL(link.url)
  expect(url.origin).toBe(PUBLIC_BASE_URL)
  expect(url.pathname.startsWith(FILES_ROUTE)).toBe(true)
  return {
    key: decodeURIComponent(url.pathname.slice(FILES_ROUTE.length)),
    expires: url.searchParams.get("expires") ?? "",
    signature: url.searchParams.get("signature") ?? ""
  }
}

const withStore = <A, E>(test: Effect.Effect<A, E, FileStore | LocalFiles>) =>
  Effect.provide(test, localFileStoreInTempDir())

/** Uploads CONTENT under a fresh key at START and signs a 15-minute link to it. */
const uploadedAndSigned = Effect.gen(function*() {
  const store = yield* LocalFiles
  const key = freshKey()
  yield* TestClock.setTime(START)
  yield* store.upload(key, Stream.make(CONTENT), metadata)
  const link = yield* store.signDownload(key, TTL)
  return { store, key, link, parts: partsOf(link) }
})

const bytesOf = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Chunk.toArray(chunks)))

/** Every file under a directory, as paths relative to it. */
const filesUnder = (root: string, folder = ""): ReadonlyArray<string> =>
  readdirSync(NodePath.join(root, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = NodePath.join(folder, entry.name)
    return entry.isDirectory() ? filesUnder(root, path) : [path]
  })

/** Flips the first character of a base64url string to another character of the alphabet. */
describe("LocalFileStore signed links", () => {
  it.effect("a link opens until its expiry, with the file's bytes and metadata", () =>
    withStore(Effect.gen(function*() {
      const { key, link, parts, store } = yield* uploadedAndSigned
      expect(parts.key).toBe(key)
      expect(link.expiresAt.epochMillis).toBe(START + Duration.toMillis(TTL))

      const opened = yield* store.openSigned(parts.key, parts.expires, parts.signature)
      expect(opened).toMatchObject({ key, size: CONTENT.length, ...metadata })
      expect(Buffer.compare(yield* bytesOf(opened.stream), Buffer.from(CONTENT))).toBe(0)

      // One millisecond before the announced expiry it still opens.
      yield* TestClock.adjust(Duration.subtract(TTL, Duration.millis(1)))
      const late = yield* store.openSigned(parts.key, parts.expires, parts.signature)
      expect(Buffer.compare(yield* bytesOf(late.stream), Buffer.from(CONTENT))).toBe(0)
    })))

  it.effect("one second after its expiry a link is refused with LinkExpired", () =>
    withStore(Effect.gen(function*() {
      const { key, link, parts, store } = yield* uploadedAndSigned
      yield* TestClock.setTime(link.expiresAt.epochMillis + 1000)
      const error = yield* Effect.flip(store.openSigned(parts.key, parts.expires, parts.signature))
      expect(error._tag).toBe("LinkExpired")
      expect(error).toMatchObject({ key })
    })))

  it.effect("a tampered signature, key or expiry, or a truncated signature, is refused with LinkTampered", () =>
    withStore(Effect.gen(function*() {
      const { parts, store } = yield* uploadedAndSigned
      // Another object that exists, so only the signature can be what refuses it.
      const otherKey = freshKey()
      yield* store.upload(otherKey, Stream.make(CONTENT), metadata)
      const attempts: ReadonlyArray<readonly [string, string, string]> = [
        [parts.key, parts.expires, flipFirst(parts.signature)],
        [otherKey, parts.expires, parts.signature],
        [parts.key, String(Number(parts.expires) + 3600), parts.signature],
        [parts.key, parts.expires, parts.signature.slice(0, -1)],
        [parts.key, parts.expires, parts.signature.slice(0, 10)],
        [parts.key, parts.expires, ""],
        [parts.key, parts.expires, parts.signature + "A"]
      ]
      for (const [key, expires, signature] of attempts) {
        const error = yield* Effect.flip(store.openSigned(key, expires, signature))
        expect(error._tag).toBe("LinkTampered")
      }
    })))

  it.effect("a signature made with another secret is refused with LinkTampered", () =>
    withStore(Effect.gen(function*() {
      const { key, store } = yield* uploadedAndSigned
      const impostor = yield* LocalFileStore.make({
        root: store.root,
        publicBaseUrl: PUBLIC_BASE_URL,
        secret: Redacted.make(`${Redacted.value(SECRET)}-but-not-quite`)
      }).pipe(Effect.provide(NodeFileSystem.layer))
      const forged = partsOf(yield* impostor.signDownload(key, TTL))
      const error = yield* Effect.flip(store.openSigned(forged.key, forged.expires, forged.signature))
      expect(error._tag).toBe("LinkTampered")
    })))

  it.effect("a genuine link to a file since deleted is refused with FileNotFound", () =>
    withStore(Effect.gen(function*() {
      const { key, parts, store } = yield* uploadedAndSigned
      rmSync(NodePath.join(store.root, key))
      const error = yield* Effect.flip(store.openSigned(parts.key, parts.expires, parts.signature))
      expect(error._tag).toBe("FileNotFound")
      expect(error).toMatchObject({ key })
    })))

  it.effect("a key that could leave the root is refused by upload, signDownload and openSigned", () =>
    withStore(Effect.gen(function*() {
      const store = yield* LocalFiles
      const { parts } = yield* uploadedAndSigned
      const escapes = [
        "exports/../../escaped.csv",
        "../escaped.csv",
        `exports/${PARTIAL_DIRECTORY}/x.csv`,
        "/tmp/escaped.csv",
        `exports/m/../../../${parts.key}`
      ]
      for (const raw of escapes) {
        const key = raw as ObjectKey
        const uploadError = yield* Effect.flip(store.upload(key, Stream.make(CONTENT), metadata))
        expect(uploadError).toMatchObject({ _tag: "UploadFailed", retryable: false })
        const signError = yield* Effect.flip(store.signDownload(key, TTL))
        expect(signError._tag).toBe("LinkSigningFailed")
        const openError = yield* Effect.flip(store.openSigned(raw, parts.expires, parts.signature))
        expect(openError._tag).toBe("LinkTampered")
        expect(Option.isNone(yield* store.read(raw))).toBe(true)
      }
      expect(existsSync(NodePath.join(store.root, "..", "escaped.csv"))).toBe(false)
      expect(filesUnder(store.root).filter((path) => !path.startsWith("exports"))).toEqual([])
    })))
})

describe("LocalFileStore uploads", () => {
  it.effect("a failing body leaves nothing under the key and nothing in the partial directory", () =>
    withStore(Effect.gen(function*() {
      const store = yield* LocalFiles
      const key = freshKey()
      const body = Stream.concat(Stream.make(CONTENT, CONTENT), Stream.fail(new BodyBroke({ afterChunks: 2 })))
      const error = yield* Effect.flip(store.upload(key, body, metadata))
      expect(error._tag).toBe("BodyBroke")
      expect(filesUnder(store.root)).toEqual([])
    })))

  it.effect("an interrupted upload leaves nothing under the key and nothing in the partial directory", () =>
    withStore(Effect.gen(function*() {
      const store = yield* LocalFiles
      const key = freshKey()
      const written = yield* Deferred.make<void>()
      const body = Stream.make(CONTENT, CONTENT).pipe(
        Stream.concat(Stream.fromEffect(Deferred.succeed(written, undefined)).pipe(Stream.drain)),
        Stream.concat(Stream.never)
      )
      const upload = yield* Effect.fork(store.upload(key, body, metadata))
      yield* Deferred.await(written)
      // The partial file is there while the upload runs, and only there.
      expect(filesUnder(store.root).map((path) => path.split(NodePath.sep)[0])).toEqual([PARTIAL_DIRECTORY])
      expect(Exit.isInterrupted(yield* Fiber.interrupt(upload))).toBe(true)
      expect(filesUnder(store.root)).toEqual([])
    })))

  it.effect("the metadata is kept beside the object and replaced with it", () =>
    withStore(Effect.gen(function*() {
      const { key, parts, store } = yield* uploadedAndSigned
      const renamed: FileMetadata = { contentType: "text/csv; charset=utf-8", downloadName: "orders_Q2.csv" }
      yield* store.upload(key, Stream.make(CONTENT), renamed)
      expect(yield* store.openSigned(parts.key, parts.expires, parts.signature)).toMatchObject(renamed)
      expect([...filesUnder(store.root)].sort()).toEqual(
        [key, `${key}.meta.json`].map((path) => NodePath.normalize(path))
      )
    })))

  it.effect("a 50 MB body in 64 KB chunks is streamed to disk whole", () =>
    withStore(Effect.gen(function*() {
      const store = yield* LocalFiles
      const key = freshKey()
      const CHUNK = 65_536
      const COUNT = 800
      const expected = createHash("sha256")
      let generated = 0
      let mostAhead = 0
      const partialDirectory = NodePath.join(store.root, PARTIAL_DIRECTORY)
      const bytesOnDisk = () =>
        readdirSync(partialDirectory).reduce(
          (sum, name) => sum + statSync(NodePath.join(partialDirectory, name)).size,
          0
        )
      // Each chunk is made only when it is pulled, so the test itself never holds more than one; how far the body
      // runs ahead of the disk shows whether the store waits for each write.
      const body = Stream.unfold(0, (index) => {
        if (index >= COUNT) return Option.none()
        mostAhead = Math.max(mostAhead, generated - bytesOnDisk())
        const chunk = new Uint8Array(CHUNK)
        for (let i = 0; i < CHUNK; i++) chunk[i] = (index * 131 + i * 7) & 0xff
        expected.update(chunk)
        generated += chunk.length
        return Option.some([chunk, index + 1] as const)
      })
      yield* store.upload(key, body, metadata)

      const path = NodePath.join(store.root, key)
      const actual = yield* Effect.promise(() =>
        new Promise<{ size: number; sha256: string }>((resolve, reject) => {
          const hash = createHash("sha256")
          let size = 0
          createReadStream(path)
            .on("data", (data) => {
              const bytes = data as Buffer
              size += bytes.length
              hash.update(bytes)
            })
            .on("error", reject)
            .on("end", () => resolve({ size, sha256: hash.digest("hex") }))
        })
      )
      expect(generated).toBe(CHUNK * COUNT)
      expect(mostAhead).toBeLessThanOrEqual(CHUNK)
      expect(actual).toEqual({ size: CHUNK * COUNT, sha256: expected.digest("hex") })
      expect(readdirSync(NodePath.join(store.root, PARTIAL_DIRECTORY))).toEqual([])
    })), 60_000)
})

describe("LocalFileStore on disk", () => {
  it.scoped("keeps exports private: directories 0700, files 0600, also in a root an older version made 0755", () =>
    Effect.gen(function*() {
      const root = NodePath.join(yield* temporaryDirectory("localfs-modes-"), "files")
      mkdirSync(root, { mode: 0o755 })
      chmodSync(root, 0o755)
      const key = freshKey()
      yield* Effect.gen(function*() {
        const store = yield* LocalFiles
        yield* store.upload(key, Stream.make(CONTENT), metadata)
      }).pipe(Effect.provide(LocalFileStore.layer({ root, publicBaseUrl: PUBLIC_BASE_URL, secret: SECRET })))
      const modes = modesUnder(root)
      expect(modes).toMatchObject({
        [PARTIAL_DIRECTORY]: "dir 700",
        [key]: "file 600",
        [`${key}.meta.json`]: "file 600"
      })
      expect(modes).toStrictEqual(allPrivate(modes))
    }))
})

// What the contract does not cover on S3: multipart uploads that fail or are interrupted once parts are stored,
// uploads of several parts, presigned links fetched over HTTP, and the settings read from Config.
import { describe, expect, it } from "@effect/vitest"
import {
  ConfigProvider,
  Data,
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
import * as S3FileStore from "../../../src/adapters/s3/S3FileStore.js"
import { FileStore } from "../../../src/application/ports/FileStore.js"
import { freshObjectKey } from "../../contracts/ContractSupport.js"
import { S3rverServer } from "../../support/servers/S3rverServer.js"
import { headObject, openUploads, PART_SIZE, readBack, s3FileStoreOnS3rver, settingsFor } from "./S3Support.js"

class BodyBroke extends Data.TaggedError("BodyBroke")<{ readonly reason: string }> {}

const freshKey = freshObjectKey

const metadata = { contentType: "text/csv; charset=utf-8", downloadName: "Bestellungen März \"2024\".csv" }

const MiB = 1024 * 1024
/** 12 MiB in 1 MiB chunks, each different: more than two 5 MiB parts. */
const TWELVE_MIB: ReadonlyArray<Uint8Array> = Array.from(
  { length: 12 },
  (_, n) => Uint8Array.from({ length: MiB }, (_, i) => (i * 13 + n * 101) % 251)
)

/** Waits, in real time, until the bucket holds an open multipart upload for the key. */
const untilUploadOpen = (key: string) =>
  openUploads.pipe(
    Effect.repeat({ schedule: Schedule.spaced(Duration.millis(25)), until: (keys) => keys.includes(key) }),
    Effect.timeoutFail({ duration: Duration.seconds(10), onTimeout: () => new Error("no multipart upload began") })
  )

// These run on the real clock: s3rver and the SDK work in real time, and the tests wait on them.
describe("S3FileStore on s3rver", () => {
  const withStore = <A, E, R>(test: Effect.Effect<A, E, R>) => Effect.provide(test, s3FileStoreOnS3rver())

  it.live("a body failing after parts were stored: its error, no object, no multipart upload left", () =>
    withStore(Effect.gen(function*() {
      const store = yield* FileStore
      const key = freshKey()
      const broke = new BodyBroke({ reason: "the query failed" })
      // The body fails only once S3 holds a multipart upload with parts in it.
      const body = Stream.fromIterable(TWELVE_MIB).pipe(
        Stream.concat(Stream.fromEffect(untilUploadOpen(key).pipe(Effect.orDie)).pipe(Stream.drain)),
        Stream.concat(Stream.fail(broke)),
        Stream.provideContext(yield* Effect.context<S3FileStore.S3 | S3rverServer>())
      )
      const error = yield* Effect.flip(store.upload(key, body, metadata))
      expect(error).toBe(broke)
      expect(Option.isNone(yield* headObject(key))).toBe(true)
      expect(yield* openUploads).toEqual([])
    })))

  it.live("an upload interrupted after parts were stored leaves no object and no multipart upload", () =>
    withStore(Effect.gen(function*() {
      const store = yield* FileStore
      const key = freshKey()
      const body = Stream.concat(Stream.fromIterable(TWELVE_MIB), Stream.never)
      const upload = yield* Effect.fork(store.upload(key, body, metadata))
      yield* untilUploadOpen(key)
      const exit = yield* Fiber.interrupt(upload)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(Option.isNone(yield* headObject(key))).toBe(true)
      expect(yield* openUploads).toEqual([])
    })))

  it.live("a 12 MiB upload in 5 MiB parts round-trips with its content type and disposition", () =>
    withStore(Effect.gen(function*() {
      const store = yield* FileStore
      const key = freshKey()
      expect(PART_SIZE).toBe(5 * MiB)
      yield* store.upload(key, Stream.fromIterable(TWELVE_MIB), metadata)
      const bytes = Option.getOrThrow(yield* readBack(key))
      expect(bytes.length).toBe(12 * MiB)
      expect(Buffer.compare(Buffer.from(bytes), Buffer.concat(TWELVE_MIB))).toBe(0)
      const head = Option.getOrThrow(yield* headObject(key))
      expect(head.ContentType).toBe("text/csv; charset=utf-8")
      expect(head.ContentDisposition).toBe(
        "attachment; filename=\"Bestellungen M_rz _2024_.csv\"; filename*=UTF-8''Bestellungen%20M%C3%A4rz%20%222024%22.csv"
      )
      expect(yield* openUploads).toEqual([])
    })))

  it.live("a body of exactly two parts round-trips without an empty third part", () =>
    withStore(Effect.gen(function*() {
      const store = yield* FileStore
      const key = freshKey()
      const body = Buffer.concat(TWELVE_MIB).subarray(0, 2 * PART_SIZE)
      yield* store.upload(key, Stream.make(body.subarray(0, 3), body.subarray(3)), metadata)
      const bytes = Option.getOrThrow(yield* readBack(key))
      expect(Buffer.compare(Buffer.from(bytes), body)).toBe(0)
      expect(yield* openUploads).toEqual([])
    })))

  it.live("a presigned link downloads the file until it expires", () =>
    withStore(Effect.gen(function*() {
      const store = yield* FileStore
      const key = freshKey()
      const content = new TextEncoder().encode("Order ID,Line\r\n1,2\r\n")
      yield* store.upload(key, Stream.make(content), metadata)

      const link = yield* store.signDownload(key, Duration.minutes(5))
      const response = yield* Effect.promise(() => fetch(link.url))
      expect(response.status).toBe(200)
      expect(response.headers.get("content-disposition")).toContain("attachment;")
      expect(new Uint8Array(yield* Effect.promise(() => response.arrayBuffer()))).toEqual(content)

      // s3rver checks a link's expiry against the real clock (but not its signature), so this one waits.
      const shortLived = yield* store.signDownload(key, Duration.seconds(1))
      yield* Effect.sleep(Duration.millis(2_200))
      const late = yield* Effect.promise(() => fetch(shortLived.url))
      expect(late.status).toBe(403)
      expect(yield* Effect.promise(() => late.text())).toContain("expired")
    })))

  it.live("a link longer than 7 days is refused", () =>
    withStore(Effect.gen(function*() {
      const store = yield* FileStore
      const key = freshKey()
      yield* store.upload(key, Stream.make(new Uint8Array([1])), metadata)
      const error = yield* Effect.flip(store.signDownload(key, Duration.sum(Duration.days(7), Duration.millis(1))))
      expect(error._tag).toBe("LinkSigningFailed")
      expect(error.detail).toContain("7 days")
    })))

  it.live("S3 failures become UploadFailed, not retryable for a 4xx", () =>
    withStore(Effect.gen(function*() {
      // A bucket that does not exist: s3rver answers 404 NoSuchBucket.
      const store = yield* S3FileStore.make({ ...settingsFor(yield* S3rverServer), bucket: "no-such-bucket" })
      const key = freshKey()
      const error = yield* Effect.flip(store.upload(key, Stream.fromIterable(TWELVE_MIB), metadata))
      expect(error._tag).toBe("UploadFailed")
      if (error._tag === "UploadFailed") expect(error.retryable).toBe(false)
    })))
})

describe("S3FileStore settings", () => {
  const read = (env: Record<string, string>) =>
    Effect.either(
      Effect.withConfigProvider(S3FileStore.S3FileStoreConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))
    )

  it.effect("has defaults for everything but the bucket", () =>
    Effect.gen(function*() {
      const settings = Either.getOrThrow(yield* read({ S3_BUCKET: "exports" }))
      expect(settings.region).toBe("auto")
      expect(Option.isNone(settings.endpoint)).toBe(true)
      expect(settings.forcePathStyle).toBe(false)
      expect(Option.isNone(settings.credentials)).toBe(true)
      expect(settings.partSize).toBe(S3FileStore.DEFAULT_PART_SIZE)
      expect(settings.uploadConcurrency).toBe(S3FileStore.DEFAULT_UPLOAD_CONCURRENCY)
    }))

  it.effect("reads an R2 setup", () =>
    Effect.gen(function*() {
      const settings = Either.getOrThrow(
        yield* read({
          S3_BUCKET: "exports",
          S3_ENDPOINT: "https://account.r2.cloudflarestorage.com",
          S3_FORCE_PATH_STYLE: "true",
          S3_ACCESS_KEY_ID: "id",
          S3_SECRET_ACCESS_KEY: "secret",
          S3_PART_SIZE: String(16 * MiB),
          S3_UPLOAD_CONCURRENCY: "8"
        })
      )
      expect(Option.getOrThrow(settings.endpoint).host).toBe("account.r2.cloudflarestorage.com")
      expect(settings.forcePathStyle).toBe(true)
      expect(Redacted.value(Option.getOrThrow(settings.credentials).secretAccessKey)).toBe("secret")
      expect(settings.partSize).toBe(16 * MiB)
      expect(settings.uploadConcurrency).toBe(8)
    }))

  it.effect("names the setting that is missing or malformed", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{}, "S3_BUCKET"],
        [{ S3_BUCKET: "b", S3_ENDPOINT: "not a url" }, "S3_ENDPOINT"],
        [{ S3_BUCKET: "b", S3_PART_SIZE: String(MiB) }, "S3_PART_SIZE"],
        [{ S3_BUCKET: "b", S3_UPLOAD_CONCURRENCY: "0" }, "S3_UPLOAD_CONCURRENCY"],
        [{ S3_BUCKET: "b", S3_ACCESS_KEY_ID: "id" }, "S3_SECRET_ACCESS_KEY"]
      ]
      for (const [env, name] of cases) {
        const result = yield* read(env)
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) expect(JSON.stringify(result.left)).toContain(name)
      }
    }))

  it.effect("builds the live layer without touching the network", () =>
    Effect.gen(function*() {
      // Port 9 on loopback has nothing listening: building must not try it.
      const env = new Map([["S3_BUCKET", "exports"], ["S3_ENDPOINT", "http://127.0.0.1:9"]])
      const store = yield* Effect.scoped(
        Layer.build(S3FileStore.S3FileStoreLive).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(env)),
          Effect.map((context) => typeof context)
        )
      )
      expect(store).toBe("object")
    }))
})

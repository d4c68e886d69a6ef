// What the contract does not cover on S3: multipart uploads that fail or are interrupted once parts are stored,
// uploads of several parts, presigned links fetched over HTTP, and the settings read from Config.
import { S3Client } from "@aws-sdk/client-s3"
import { describe, expect, it } from "@effect/vitest"
import {
  ConfigProvider,
  Context,
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
import { UploadFailed } from "../../../src/domain/Errors.js"
import { freshObjectKey } from "../../contracts/ContractSupport.js"
import { S3RVER_ACCESS_KEY, S3rverServer } from "../../support/servers/S3rverServer.js"
import { divert, SilentServer } from "../../support/servers/SilentServer.js"
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

  it.live("parts and whole objects go out as an unsigned payload, not hashed a second time for SigV4", () =>
    withStore(Effect.gen(function*() {
      const store = yield* FileStore
      const client = yield* S3FileStore.S3
      // What each command sent, as signed: the last step before the request leaves.
      const sent: Array<{ readonly command: string; readonly payload: string | undefined }> = []
      client.middlewareStack.add(
        (next, context) => (args) => {
          const headers = (args.request as { readonly headers?: Record<string, string> }).headers ?? {}
          sent.push({ command: String(context.commandName), payload: headers["x-amz-content-sha256"] })
          return next(args)
        },
        { step: "deserialize", name: "recordPayloadHeader" }
      )
      yield* store.upload(freshKey(), Stream.fromIterable(TWELVE_MIB), metadata)
      yield* store.upload(freshKey(), Stream.make(new Uint8Array([1, 2, 3])), metadata)
      const carryingBytes = sent.filter(({ command }) =>
        command === "UploadPartCommand" || command === "PutObjectCommand"
      )
      expect(carryingBytes.map(({ command }) => command)).toEqual([
        "UploadPartCommand",
        "UploadPartCommand",
        "UploadPartCommand",
        "PutObjectCommand"
      ])
      expect(carryingBytes.every(({ payload }) => payload === "UNSIGNED-PAYLOAD")).toBe(true)
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

/** Limits short enough for a test, and apart so that a test can tell which one ended a call. */
const SHORT_LIMITS = { callTimeout: Duration.millis(800), quickCallTimeout: Duration.millis(300) }

/** The result of `effect` and how long it took, in real time. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const result = yield* Effect.either(effect)
    return { result, tookMillis: Date.now() - started }
  })

/** Ended after about `limit`: not before it, and not much later (the SDK's own limits are 30 s). */
const expectEndedAt = (tookMillis: number, limit: Duration.Duration) => {
  expect(tookMillis).toBeGreaterThanOrEqual(Duration.toMillis(limit) - 50)
  expect(tookMillis).toBeLessThan(Duration.toMillis(limit) + 3_000)
}

/** Failed as a retryable UploadFailed that says which call went unanswered, and for how long. */
const expectUploadTimedOut = <E>(result: Either.Either<void, E | UploadFailed>, detail: string | RegExp) => {
  expect(Either.isLeft(result)).toBe(true)
  if (Either.isRight(result)) return
  expect(result.left).toBeInstanceOf(UploadFailed)
  expect(result.left).toMatchObject({
    retryable: true,
    detail: typeof detail === "string" ? detail : expect.stringMatching(detail) as unknown
  })
}

// A server that accepts connections and never answers, for a whole endpoint or, diverted to, for one operation while
// s3rver answers the rest. Real time again: the limits are what is tested.
describe("S3FileStore when S3 does not answer", () => {
  const withStore = <A, E, R>(test: Effect.Effect<A, E, R>) =>
    Effect.provide(test, Layer.merge(s3FileStoreOnS3rver(SHORT_LIMITS), SilentServer.layer))

  /** A store with the short limits whose every call goes to the silent server. */
  const silentStore = Effect.gen(function*() {
    const settings = { ...settingsFor(yield* S3rverServer), ...SHORT_LIMITS }
    const silent = yield* SilentServer
    const context = yield* Layer.build(S3FileStore.layer({ ...settings, endpoint: Option.some(silent.endpoint) }))
    return Context.get(context, FileStore)
  })

  it.live("a CreateMultipartUpload without an answer fails the upload, retryable, at its limit", () =>
    withStore(
      Effect.gen(function*() {
        const store = yield* silentStore
        const { result, tookMillis } = yield* timed(store.upload(freshKey(), Stream.fromIterable(TWELVE_MIB), metadata))
        expectUploadTimedOut(result, "CreateMultipartUpload: no answer within 300ms")
        expectEndedAt(tookMillis, SHORT_LIMITS.quickCallTimeout)
        expect((yield* SilentServer).accepted()).toBeGreaterThan(0)
      }).pipe(Effect.scoped)
    ))

  it.live("a PutObject without an answer fails the upload, retryable, at its limit", () =>
    withStore(
      Effect.gen(function*() {
        const store = yield* silentStore
        const { result, tookMillis } = yield* timed(store.upload(freshKey(), Stream.make(TWELVE_MIB[0]!), metadata))
        expectUploadTimedOut(result, "PutObject: no answer within 800ms")
        expectEndedAt(tookMillis, SHORT_LIMITS.callTimeout)
      }).pipe(Effect.scoped)
    ))

  it.live("an UploadPart without an answer fails the upload at its limit, and leaves no object and no upload", () =>
    withStore(Effect.gen(function*() {
      const store = yield* FileStore
      const diverted = divert(yield* S3FileStore.S3, "UploadPartCommand", yield* SilentServer)
      const key = freshKey()
      const { result, tookMillis } = yield* timed(store.upload(key, Stream.fromIterable(TWELVE_MIB), metadata))
      expect(diverted()).toBe(1)
      expectUploadTimedOut(result, /^UploadPart [12]: no answer within 800ms$/)
      expectEndedAt(tookMillis, SHORT_LIMITS.callTimeout)
      expect(Option.isNone(yield* headObject(key))).toBe(true)
      expect(yield* openUploads).toEqual([])
    })))

  it.live("a CompleteMultipartUpload without an answer fails the upload at its limit, and leaves nothing", () =>
    withStore(Effect.gen(function*() {
      const store = yield* FileStore
      const diverted = divert(yield* S3FileStore.S3, "CompleteMultipartUploadCommand", yield* SilentServer)
      const key = freshKey()
      // The last of the body has been read when the completion is sent: only its own limit can end it (ADR 21).
      let bodyEnded = false
      const body = Stream.fromIterable(TWELVE_MIB).pipe(Stream.ensuring(Effect.sync(() => void (bodyEnded = true))))
      const { result, tookMillis } = yield* timed(store.upload(key, body, metadata))
      expect([bodyEnded, diverted()]).toEqual([true, 1])
      expectUploadTimedOut(result, "CompleteMultipartUpload: no answer within 800ms")
      expectEndedAt(tookMillis, SHORT_LIMITS.callTimeout)
      expect(Option.isNone(yield* headObject(key))).toBe(true)
      expect(yield* openUploads).toEqual([])
    })))

  it.live("an abort without an answer gives up after its attempts' limits, failing with the upload's own error", () =>
    withStore(Effect.gen(function*() {
      const store = yield* FileStore
      const diverted = divert(yield* S3FileStore.S3, "AbortMultipartUploadCommand", yield* SilentServer, 10)
      const key = freshKey()
      const broke = new BodyBroke({ reason: "the query failed" })
      const body = Stream.fromIterable(TWELVE_MIB).pipe(
        Stream.concat(Stream.fromEffect(untilUploadOpen(key).pipe(Effect.orDie)).pipe(Stream.drain)),
        Stream.concat(Stream.fail(broke)),
        Stream.provideContext(yield* Effect.context<S3FileStore.S3 | S3rverServer>())
      )
      const { result, tookMillis } = yield* timed(store.upload(key, body, metadata))
      expect(result).toEqual(Either.left(broke))
      // Four attempts (three retries) of 300 ms, 0.2 + 0.4 + 0.8 s apart; then the lifecycle rule's job.
      expect(diverted()).toBe(4)
      expect(tookMillis).toBeLessThan(4 * 300 + 1_400 + 3_000)
      expect(yield* openUploads).toEqual([key])
    })))

  it.live("a HeadObject without an answer fails signing, as LinkSigningFailed, at its limit", () =>
    withStore(
      Effect.gen(function*() {
        const store = yield* silentStore
        const { result, tookMillis } = yield* timed(store.signDownload(freshKey(), Duration.minutes(5)))
        expect(result).toEqual(Either.left(expect.objectContaining({
          _tag: "LinkSigningFailed",
          detail: "HeadObject: no answer within 300ms"
        })))
        expectEndedAt(tookMillis, SHORT_LIMITS.quickCallTimeout)
      }).pipe(Effect.scoped)
    ))

  it.live("presigning whose credentials never come fails as LinkSigningFailed at its limit", () =>
    withStore(
      Effect.gen(function*() {
        const key = freshKey()
        yield* Effect.flatMap(FileStore, (store) => store.upload(key, Stream.make(new Uint8Array([1])), metadata))
        const silent = yield* SilentServer
        // Credentials as an instance role hands them out: they expire, here just as the link is signed, and the SDK
        // fetches them again, from a metadata service that never answers.
        let expired = false
        let fetched = 0
        const credentials = async () => {
          fetched++
          if (fetched > 1) await fetch(silent.endpoint)
          return {
            accessKeyId: S3RVER_ACCESS_KEY,
            secretAccessKey: S3RVER_ACCESS_KEY,
            get expiration() {
              return new Date(Date.now() + (expired ? 0 : 60 * 60_000))
            }
          }
        }
        const settings = { ...settingsFor(yield* S3rverServer), ...SHORT_LIMITS }
        const client = yield* Effect.acquireRelease(
          Effect.sync(() => new S3Client({ ...S3FileStore.clientConfig(settings), credentials })),
          (client) => Effect.sync(() => client.destroy())
        )
        client.middlewareStack.add(
          (next, context) => (args) => {
            if (context.commandName === "GetObjectCommand") expired = true
            return next(args)
          },
          { step: "initialize", name: "expireCredentials" }
        )
        const store = yield* S3FileStore.make(settings).pipe(Effect.provideService(S3FileStore.S3, client))
        const { result, tookMillis } = yield* timed(store.signDownload(key, Duration.minutes(5)))
        expect(result).toEqual(Either.left(expect.objectContaining({
          _tag: "LinkSigningFailed",
          detail: "presigning: no answer within 300ms"
        })))
        expect(fetched).toBe(2)
        expectEndedAt(tookMillis, SHORT_LIMITS.quickCallTimeout)
      }).pipe(Effect.scoped)
    ))
})

describe("S3FileStore settings", () => {
  const read = (env: Record<string, string>) =>
    Effect.either(
      Effect.withConfigProvider(
        S3FileStore.s3FileStoreSettingsConfig,
        ConfigProvider.fromMap(new Map(Object.entries(env)))
      )
    )

  it.effect("has defaults for everything but the bucket and, for AWS S3 itself, the region", () =>
    Effect.gen(function*() {
      const settings = Either.getOrThrow(yield* read({ S3_BUCKET: "exports", AWS_REGION: "eu-west-1" }))
      expect(settings.region).toBe("eu-west-1")
      expect(Option.isNone(settings.endpoint)).toBe(true)
      expect(settings.forcePathStyle).toBe(false)
      expect(Option.isNone(settings.credentials)).toBe(true)
      expect(settings.partSize).toBe(S3FileStore.DEFAULT_PART_SIZE)
      expect(settings.uploadConcurrency).toBe(S3FileStore.DEFAULT_UPLOAD_CONCURRENCY)
      expect(settings.callTimeout).toEqual(Duration.minutes(2))
      expect(settings.quickCallTimeout).toEqual(Duration.seconds(10))
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
          S3_UPLOAD_CONCURRENCY: "8",
          S3_CALL_TIMEOUT: "5 minutes"
        })
      )
      expect(Option.getOrThrow(settings.endpoint).host).toBe("account.r2.cloudflarestorage.com")
      expect(settings.forcePathStyle).toBe(true)
      expect(Redacted.value(Option.getOrThrow(settings.credentials).secretAccessKey)).toBe("secret")
      expect(settings.partSize).toBe(16 * MiB)
      expect(settings.uploadConcurrency).toBe(8)
      expect(settings.callTimeout).toEqual(Duration.minutes(5))
    }))

  it.effect("names the setting that is missing or malformed", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{}, "S3_BUCKET"],
        [{ S3_BUCKET: "b", S3_ENDPOINT: "not a url" }, "S3_ENDPOINT"],
        [{ S3_BUCKET: "b", S3_PART_SIZE: String(MiB) }, "S3_PART_SIZE"],
        [{ S3_BUCKET: "b", S3_UPLOAD_CONCURRENCY: "0" }, "S3_UPLOAD_CONCURRENCY"],
        [{ S3_BUCKET: "b", S3_CALL_TIMEOUT: "soon" }, "S3_CALL_TIMEOUT"],
        [{ S3_BUCKET: "b", S3_CALL_TIMEOUT: "0 seconds" }, "S3_CALL_TIMEOUT"],
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
        Layer.build(S3FileStore.layerConfig).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(env)),
          Effect.map((context) => typeof context)
        )
      )
      expect(store).toBe("object")
    }))
})

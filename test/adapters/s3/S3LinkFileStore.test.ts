// The API's links, signed with SigV4 alone (ADR 61), against what the SDK's presigner makes of a GetObjectCommand on
// S3FileStore's client: the same URL, signature included, for s3rver's path-style endpoint, R2 and AWS S3. s3rver
// checks no signature, so the comparison is what proves the links; the download proves they address the object.
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { getSignedUrl } from "@aws-sdk/s3-request-presigner"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Logger, Option, Redacted, Stream } from "effect"
import * as S3FileStore from "../../../src/adapters/s3/S3FileStore.js"
import * as S3LinkFileStore from "../../../src/adapters/s3/S3LinkFileStore.js"
import { FileStore } from "../../../src/application/ports/FileStore.js"
import { freshObjectKey } from "../../contracts/ContractSupport.js"
import { S3RVER_ACCESS_KEY, S3rverServer } from "../../support/servers/S3rverServer.js"
import { s3LinkFileStoreOnS3rver, settingsFor } from "./S3Support.js"

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
const credentials = Option.some({
  accessKeyId: Redacted.make("AKIDEXAMPLE"),
  secretAccessKey: Redacted.make(SECRET)
})
const base = {
  forcePathStyle: false,
  credentials,
  partSize: S3FileStore.MIN_PART_SIZE,
  uploadConcurrency: 2,
  callTimeout: S3FileStore.DEFAULT_CALL_TIMEOUT,
  quickCallTimeout: S3FileStore.QUICK_CALL_TIMEOUT
}

const SETTINGS: ReadonlyArray<readonly [string, S3FileStore.S3FileStoreSettings]> = [
  ["s3rver, path style", {
    ...base,
    bucket: "exports",
    region: "auto",
    endpoint: Option.some(new URL("http://127.0.0.1:4569")),
    forcePathStyle: true
  }],
  ["R2", {
    ...base,
    bucket: "exports",
    region: "auto",
    endpoint: Option.some(new URL("https://0123456789abcdef.r2.cloudflarestorage.com"))
  }],
  ["AWS S3 in eu-west-1", { ...base, bucket: "acme-exports", region: "eu-west-1", endpoint: Option.none() }],
  ["AWS S3 in us-east-1", { ...base, bucket: "acme-exports", region: "us-east-1", endpoint: Option.none() }],
  ["AWS S3, a bucket with dots", { ...base, bucket: "acme.exports", region: "eu-west-1", endpoint: Option.none() }]
]

const KEYS = ["exports/tenant-1/01JEXAMPLE.csv", "exports/t 2/Bestellungen März (2024)!*'.csv"]

const DAY = 24 * 60 * 60
const SIGNED_AT = new Date(Date.UTC(2026, 11, 5, 3, 30, 17))

const presignerLink = (settings: S3FileStore.S3FileStoreSettings, key: string) => {
  const client = new S3Client(S3FileStore.clientConfig(settings))
  return getSignedUrl(client, new GetObjectCommand({ Bucket: settings.bucket, Key: key }), {
    expiresIn: DAY,
    signingDate: SIGNED_AT
  }).finally(() => client.destroy())
}

const ownLink = (settings: S3FileStore.S3FileStoreSettings, key: string) =>
  S3LinkFileStore.signGet(S3LinkFileStore.makeSigner(settings), settings, key, DAY, SIGNED_AT)

/** The URL without its query, and its query as sorted pairs. */
const parts = (link: string) => {
  const url = new URL(link)
  return {
    address: `${url.origin}${url.pathname}`,
    query: [...url.searchParams.entries()].sort(([a], [b]) => a.localeCompare(b))
  }
}

describe("S3LinkFileStore's links", () => {
  for (const [name, settings] of SETTINGS) {
    it.effect(`are the presigner's, signature included: ${name}`, () =>
      Effect.promise(async () => {
        for (const key of KEYS) {
          const [theirs, ours] = await Promise.all([presignerLink(settings, key), ownLink(settings, key)])
          expect(parts(ours)).toEqual(parts(theirs))
          expect(new URL(ours).searchParams.get("X-Amz-Expires")).toBe(String(DAY))
          expect(ours).not.toContain(SECRET)
        }
      }))
  }
})

describe("S3LinkFileStore's links on the default credential chain", () => {
  // A function's role on AWS S3: no static keys, the chain's first source the environment, with a session token.
  const ROLE = {
    AWS_ACCESS_KEY_ID: "ASIAEXAMPLE",
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_SESSION_TOKEN: "IQoJb3JpZ2luX2VjEXAMPLE//token+/="
  }

  it.effect("are the presigner's, the session token signed in", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const before = Object.fromEntries(Object.keys(ROLE).map((name) => [name, process.env[name]]))
        Object.assign(process.env, ROLE)
        return before
      }),
      () =>
        Effect.promise(async () => {
          const settings = {
            ...base,
            bucket: "acme-exports",
            region: "eu-west-1",
            endpoint: Option.none(),
            credentials: Option.none()
          }
          const [theirs, ours] = await Promise.all([presignerLink(settings, KEYS[0]!), ownLink(settings, KEYS[0]!)])
          expect(parts(ours)).toEqual(parts(theirs))
          expect(new URL(ours).searchParams.get("X-Amz-Security-Token")).toBe(ROLE.AWS_SESSION_TOKEN)
        }),
      (before) =>
        Effect.sync(() => {
          for (const [name, value] of Object.entries(before)) {
            if (value === undefined) delete process.env[name]
            else process.env[name] = value
          }
        })
    ))
})

describe("S3LinkFileStore on s3rver", () => {
  const metadata = { contentType: "text/csv; charset=utf-8", downloadName: "Bestellungen März \"2024\".csv" }

  it.live("a 24-hour link downloads the object, as stored, with its file name", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const key = freshObjectKey()
      const content = new TextEncoder().encode("id,total\n1,9.50\n")
      yield* store.upload(key, Stream.make(content), metadata)
      const link = yield* store.signDownload(key, Duration.hours(24))
      // From the start of the second it was signed in, rounded up so that it lives until `expiresAt`.
      expect(Number(new URL(link.url).searchParams.get("X-Amz-Expires")) - DAY).toBeOneOf([0, 1])
      expect(new URL(link.url).searchParams.get("X-Amz-SignedHeaders")).toBe("host")
      const response = yield* Effect.promise(() => fetch(link.url))
      expect(response.status).toBe(200)
      expect(response.headers.get("content-disposition")).toContain("attachment;")
      expect(new Uint8Array(yield* Effect.promise(() => response.arrayBuffer()))).toEqual(content)
    }).pipe(Effect.provide(s3LinkFileStoreOnS3rver())))

  it.live("a link is the presigner's on the same server, bucket and second", () =>
    Effect.gen(function*() {
      const settings = settingsFor(yield* S3rverServer)
      const key = freshObjectKey()
      const [theirs, ours] = yield* Effect.promise(() =>
        Promise.all([presignerLink(settings, key), ownLink(settings, key)])
      )
      expect(parts(ours)).toEqual(parts(theirs))
    }).pipe(Effect.provide(S3rverServer.layer())))

  it.live("no object, no link; and neither a link nor a log line carries the secret key", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ message }) => lines.push(JSON.stringify(message)))
      )
      const store = yield* FileStore
      const error = yield* Effect.flip(store.signDownload(freshObjectKey(), Duration.hours(24)))
      expect([error._tag, error.detail]).toEqual(["LinkSigningFailed", "no such object"])
      const key = freshObjectKey()
      yield* store.upload(key, Stream.make(new Uint8Array([1])), metadata)
      const link = yield* store.signDownload(key, Duration.hours(24)).pipe(
        Effect.tap((link) => Effect.logInfo("signed", link.url)),
        Effect.provide(capture)
      )
      expect(lines.length).toBeGreaterThan(0)
      expect([link.url, ...lines].join("\n")).not.toContain(SECRET)
    }).pipe(Effect.provide(s3LinkFileStoreOnS3rver({
      // s3rver knows its own access key only; it checks no signature, so the secret may be any.
      credentials: Option.some({
        accessKeyId: Redacted.make(S3RVER_ACCESS_KEY),
        secretAccessKey: Redacted.make(SECRET)
      })
    }))))

  it.live("a HEAD whose connection fails is tried again, twice at most, as the SDK's client did", () =>
    Effect.gen(function*() {
      const { faults } = yield* S3rverServer
      const store = yield* FileStore
      const key = freshObjectKey()
      yield* store.upload(key, Stream.make(new Uint8Array([1])), metadata)
      const heads = () => faults.seen.filter((request) => request.method === "HEAD" && request.key === key)

      // The first HEAD's connection is reset: the second answers, and the link is made.
      faults.set((request) => request.method === "HEAD" && heads().length === 0 ? "reset" : "pass")
      const link = yield* store.signDownload(key, Duration.hours(24))
      expect(link.url).toContain(key)
      expect(heads().map((request) => request.action)).toEqual(["reset", "pass"])

      // Every HEAD reset: three tries, then refused with what went wrong.
      faults.set((request) => request.method === "HEAD" ? "reset" : "pass")
      const before = heads().length
      const error = yield* Effect.flip(store.signDownload(key, Duration.hours(24)))
      expect(error._tag).toBe("LinkSigningFailed")
      expect(error.detail).toMatch(/^HeadObject: /)
      expect(heads().length - before).toBe(3)
    }).pipe(Effect.provide(s3LinkFileStoreOnS3rver())))
})

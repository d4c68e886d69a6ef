// The S3 file store against a fresh s3rver, and the test's own view of its bucket through the same client.
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  S3ServiceException
} from "@aws-sdk/client-s3"
import type { HeadObjectCommandOutput } from "@aws-sdk/client-s3"
import { Effect, Layer, Option, Redacted } from "effect"
import * as S3FileStore from "../../../src/adapters/s3/S3FileStore.js"
import type { S3FileStoreSettings } from "../../../src/adapters/s3/S3FileStore.js"
import * as S3LinkFileStore from "../../../src/adapters/s3/S3LinkFileStore.js"
import { FileStore } from "../../../src/application/ports/FileStore.js"
import { S3RVER_ACCESS_KEY, S3rverServer } from "../../support/servers/S3rverServer.js"
import type { S3rverInfo } from "../../support/servers/S3rverServer.js"

export const PART_SIZE = S3FileStore.MIN_PART_SIZE

export const settingsFor = (info: S3rverInfo): S3FileStoreSettings => ({
  bucket: info.bucket,
  region: "auto",
  endpoint: Option.some(info.endpoint),
  forcePathStyle: true,
  // s3rver knows one access key and never verifies SigV4 signatures, so these tests cannot catch a badly signed
  // request or link: that is left to a run against R2 or S3.
  credentials: Option.some({
    accessKeyId: Redacted.make(S3RVER_ACCESS_KEY),
    secretAccessKey: Redacted.make(S3RVER_ACCESS_KEY)
  }),
  partSize: PART_SIZE,
  uploadConcurrency: 2,
  callTimeout: S3FileStore.DEFAULT_CALL_TIMEOUT,
  quickCallTimeout: S3FileStore.QUICK_CALL_TIMEOUT
})

/** A fresh s3rver and a store on it, with `overrides` of its settings; everything is stopped and removed with the layer. */
export const s3FileStoreOnS3rver = (overrides: Partial<S3FileStoreSettings> = {}) =>
  Layer.unwrapEffect(Effect.map(S3rverServer, (info) => S3FileStore.layer({ ...settingsFor(info), ...overrides })))
    .pipe(
      Layer.provideMerge(S3rverServer.layer())
    )

const isMissing = (error: unknown) =>
  error instanceof S3ServiceException && (error.name === "NoSuchKey" || error.$metadata.httpStatusCode === 404)

/** The object's bytes through GetObject, or None when there is none. */
export const readBack = (key: string) =>
  Effect.gen(function*() {
    const client = yield* S3FileStore.S3
    const { bucket } = yield* S3rverServer
    return yield* Effect.tryPromise(async () => {
      const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      return answer.Body === undefined ? new Uint8Array(0) : await answer.Body.transformToByteArray()
    }).pipe(
      Effect.map(Option.some),
      Effect.catchAll((error) => isMissing(error.error) ? Effect.succeedNone : Effect.die(error.error))
    )
  })

export const headObject = (key: string) =>
  Effect.gen(function*() {
    const client = yield* S3FileStore.S3
    const { bucket } = yield* S3rverServer
    return yield* Effect.tryPromise(() => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).pipe(
      Effect.map((head): Option.Option<HeadObjectCommandOutput> => Option.some(head)),
      Effect.catchAll((error) => isMissing(error.error) ? Effect.succeedNone : Effect.die(error.error))
    )
  })

/** The keys of the multipart uploads still open in the bucket (ListMultipartUploads). */
export const openUploads = Effect.gen(function*() {
  const client = yield* S3FileStore.S3
  const { bucket } = yield* S3rverServer
  const answer = yield* Effect.promise(() => client.send(new ListMultipartUploadsCommand({ Bucket: bucket })))
  return (answer.Uploads ?? []).map((upload) => upload.Key ?? "")
})

/**
 * A fresh s3rver and the API's store on it (S3LinkFileStore: links signed without an S3 client), with S3FileStore's
 * client beside it for the test's own view of the bucket.
 */
export const s3LinkFileStoreOnS3rver = (overrides: Partial<S3FileStoreSettings> = {}) =>
  Layer.unwrapEffect(Effect.map(S3rverServer, (info) => {
    const settings = { ...settingsFor(info), ...overrides }
    return Layer.scoped(FileStore, S3LinkFileStore.make(settings)).pipe(
      Layer.merge(Layer.scoped(S3FileStore.S3, S3FileStore.makeClient(settings)))
    )
  })).pipe(Layer.provideMerge(S3rverServer.layer()))

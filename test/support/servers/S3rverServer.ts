// s3rver (a fake S3 on the local disk) on a free loopback port, for as long as a scope, in a temporary directory
// removed afterwards. s3rver accepts any SigV4 signature from its one account (it checks expiry, not signatures).
import { Context, Effect, Layer } from "effect"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import type { IncomingMessage, ServerResponse } from "node:http"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import * as NodePath from "node:path"

/** The only access key s3rver knows (its secret is the same); the signature itself is never verified. */
export const S3RVER_ACCESS_KEY = "S3RVER"

export interface S3rverInfo {
  /** `http://127.0.0.1:<port>`, to use with path-style addressing. */
  readonly endpoint: URL
  readonly bucket: string
  /** Where s3rver keeps its files. */
  readonly directory: string
  /** Faults injected into the requests s3rver receives, and a record of those requests. */
  readonly faults: S3rverFaults
}

/** One request as the fault hook sees it: `key` is "" for a bucket-level request. */
export interface S3rverRequest {
  readonly method: string
  readonly key: string
  readonly query: Readonly<Record<string, string | Array<string> | undefined>>
}

/**
 * What to do with a request: serve it; `reset` its connection without an answer (a server that went away mid-call);
 * or `hold` it unanswered until `release()` (a server that stalls), dropping it if its client has gone by then.
 */
export type S3rverFaultAction = "pass" | "reset" | "hold"

export interface S3rverFaults {
  /** Installs the hook asked about every request from now on; `undefined` serves everything again. */
  readonly set: (fault: ((request: S3rverRequest) => S3rverFaultAction) | undefined) => void
  /** Every request received since start, in order, with what the hook did to it. */
  readonly seen: ReadonlyArray<S3rverRequest & { readonly action: S3rverFaultAction }>
  /** How many requests are held right now. */
  readonly held: () => number
  /** Removes the hook and lets every held request go on (those whose client hung up are dropped). */
  readonly release: () => void
}

/** A PUT of a part of a multipart upload, and its part number. */
export const partNumberOf = (request: S3rverRequest): number | undefined =>
  request.method === "PUT" && typeof request.query["partNumber"] === "string" &&
    typeof request.query["uploadId"] === "string"
    ? Number(request.query["partNumber"])
    : undefined

/** A POST that starts a multipart upload (CreateMultipartUpload). */
export const isCreateMultipartUpload = (request: S3rverRequest): boolean =>
  request.method === "POST" && "uploads" in request.query

interface KoaContext {
  readonly method: string
  readonly path: string
  readonly query: Record<string, string | Array<string> | undefined>
  readonly req: IncomingMessage
  readonly res: ServerResponse
  status: number
  type: string
  body: unknown
  respond?: boolean
}

interface S3rverInstance {
  readonly middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>>
  run(): Promise<{ readonly address: string; readonly port: number }>
  close(): Promise<void>
}

type S3rverConstructor = new(options: {
  readonly address: string
  readonly port: number
  readonly silent: boolean
  readonly directory: string
  readonly configureBuckets: ReadonlyArray<{ readonly name: string }>
}) => S3rverInstance

// s3rver ships no types and is CommonJS.
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverConstructor

/** Where s3rver 3.7.1 keeps a bucket's multipart uploads: one folder per upload id, with a `key` file. */
const uploadsDirectory = (directory: string, bucket: string) => NodePath.join(directory, bucket, "._S3rver_uploads")

const xmlEscape = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** The multipart uploads s3rver holds for a bucket, as `{ key, uploadId }`, read from its disk. */
export const pendingUploads = (
  info: S3rverInfo
): ReadonlyArray<{ readonly key: string; readonly uploadId: string }> => {
  const root = uploadsDirectory(info.directory, info.bucket)
  let ids: Array<string>
  try {
    ids = readdirSync(root)
  } catch {
    return []
  }
  return ids.map((uploadId) => {
    let key = ""
    try {
      key = readFileSync(NodePath.join(root, uploadId, "key"), "utf8")
    } catch {
      // A part that arrived after an abort recreates the folder without its key: still a leftover.
    }
    return { key, uploadId }
  })
}

/**
 * s3rver 3.7.1 implements neither AbortMultipartUpload nor ListMultipartUploads (it answers 405 and 501). These two
 * stand-ins, run before its router, do what S3 does over s3rver's own on-disk layout, so that the adapter's abort
 * works and a test can list what is left.
 */
const multipartStandIns = (info: S3rverInfo) => async (ctx: KoaContext, next: () => Promise<void>) => {
  const { bucket, key } = keyOf(ctx.path)
  if (bucket === info.bucket && ctx.method === "DELETE" && typeof ctx.query["uploadId"] === "string") {
    const folder = NodePath.join(uploadsDirectory(info.directory, bucket), NodePath.basename(ctx.query["uploadId"]))
    const known = pendingUploads(info).some((upload) => upload.uploadId === NodePath.basename(folder))
    if (!known) {
      ctx.status = 404
      ctx.type = "application/xml"
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code>` +
        `<Message>The specified upload does not exist.</Message></Error>`
      return
    }
    rmSync(folder, { recursive: true, force: true })
    ctx.status = 204
    return
  }
  if (bucket === info.bucket && key === "" && ctx.method === "GET" && "uploads" in ctx.query) {
    const uploads = pendingUploads(info).map((upload) =>
      `<Upload><Key>${xmlEscape(upload.key)}</Key><UploadId>${upload.uploadId}</UploadId></Upload>`
    ).join("")
    ctx.status = 200
    ctx.type = "application/xml"
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult>` +
      `<Bucket>${xmlEscape(bucket)}</Bucket><IsTruncated>false</IsTruncated>${uploads}</ListMultipartUploadsResult>`
    return
  }
  return next()
}

const keyOf = (path: string): { readonly bucket: string; readonly key: string } => {
  const [bucket = "", ...keyParts] = path.replace(/^\//, "").split("/")
  return { bucket, key: keyParts.map(decodeURIComponent).join("/") }
}

/** The fault hook, run before anything else, and its controls. */
const faultInjection = () => {
  let fault: ((request: S3rverRequest) => S3rverFaultAction) | undefined
  const seen: Array<S3rverRequest & { readonly action: S3rverFaultAction }> = []
  const waiting = new Set<() => void>()
  const faults: S3rverFaults = {
    set: (next) => {
      fault = next
    },
    seen,
    held: () => waiting.size,
    release: () => {
      fault = undefined
      for (const resume of [...waiting]) resume()
    }
  }
  const middleware = async (ctx: KoaContext, next: () => Promise<void>) => {
    const request: S3rverRequest = { method: ctx.method, key: keyOf(ctx.path).key, query: { ...ctx.query } }
    const action = fault?.(request) ?? "pass"
    seen.push({ ...request, action })
    if (action === "reset") {
      ctx.respond = false
      ctx.req.socket.destroy()
      return
    }
    if (action === "hold") {
      const socket = ctx.req.socket
      const clientGone = await new Promise<boolean>((resolve) => {
        const onClose = () => finish(true)
        const finish = (gone: boolean) => {
          waiting.delete(resume)
          socket.off("close", onClose)
          resolve(gone)
        }
        const resume = () => finish(socket.destroyed)
        waiting.add(resume)
        socket.once("close", onClose)
      })
      if (clientGone) {
        ctx.respond = false
        return
      }
    }
    return next()
  }
  return { faults, middleware }
}

/** Starts s3rver with one bucket; stops it and removes its directory when the scope closes. */
export const startS3rver = (bucket = "exports-test") =>
  Effect.acquireRelease(
    Effect.tryPromise(async () => {
      const directory = mkdtempSync(NodePath.join(tmpdir(), "s3rver-"))
      const server = new S3rver({
        address: "127.0.0.1",
        port: 0,
        silent: true,
        directory,
        configureBuckets: [{ name: bucket }]
      })
      const injection = faultInjection()
      const info = { endpoint: new URL("http://127.0.0.1"), bucket, directory, faults: injection.faults }
      server.middleware.unshift(multipartStandIns(info))
      server.middleware.unshift(injection.middleware)
      try {
        const address = await server.run()
        return { server, info: { ...info, endpoint: new URL(`http://127.0.0.1:${address.port}`) } }
      } catch (error) {
        rmSync(directory, { recursive: true, force: true })
        throw error
      }
    }),
    ({ info, server }) =>
      Effect.sync(() => info.faults.release()).pipe(
        Effect.zipRight(Effect.promise(() => server.close())),
        Effect.ensuring(Effect.sync(() => rmSync(info.directory, { recursive: true, force: true })))
      )
  ).pipe(Effect.map(({ info }) => info), Effect.orDie)

export class S3rverServer extends Context.Tag("test/S3rverServer")<S3rverServer, S3rverInfo>() {
  static readonly layer = (bucket?: string): Layer.Layer<S3rverServer> =>
    Layer.scoped(S3rverServer, startS3rver(bucket))
}

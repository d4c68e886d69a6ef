// The built web app (Vite's `web/dist`) served by the Node runtimes beside the API (ADR 36): hashed files under
// /assets cached for a year, index.html revalidated every time and answered for the app's own routes, every page
// under a strict Content-Security-Policy. Paths the server keeps for itself (/api, /files, /dev, the documents and
// probes) never fall back to the app: an unknown one keeps its JSON 404.
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Config, Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import { readFile, realpath, stat } from "node:fs/promises"
import { extname, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { currentErrorResponse } from "./ApiErrors.js"

export interface WebAppSettings {
  /** The directory of the built app: index.html, and the hashed files under assets/. */
  readonly root: string
}

/** The repository's own build of the app: `web/dist` beside `src/`, wherever the process was started from. */
export const DEFAULT_WEB_APP_DIR = fileURLToPath(new URL("../../../web/dist", import.meta.url))

/** WEB_APP_DIR: where the built web app is; the repository's `web/dist` unless set (relative to the working directory). */
export const webAppDirConfig: Config.Config<string> = Config.string("WEB_APP_DIR").pipe(
  Config.withDefault(DEFAULT_WEB_APP_DIR),
  Config.map((dir) => resolve(dir))
)

/**
 * The app's scripts and styles come from its own files only: no inline script or style, no eval, no plugin, no
 * framing, and requests only to this origin (the API, its event stream). `data:` images for small inlined icons.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "object-src 'none'"
].join("; ")

/** Every answer of the app's routes carries these, whatever its type (an SVG opened on its own is a page too). */
const SECURITY_HEADERS = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY"
} as const

/** Vite names these by their content, so a name never changes meaning. */
export const IMMUTABLE = "public, max-age=31536000, immutable"
/** index.html and the app's other unhashed files: kept, but asked for again each time. */
export const REVALIDATE = "no-cache"

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".webmanifest": "application/manifest+json",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2"
}

export const contentTypeOf = (path: string): string =>
  CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream"

/** Paths the server answers itself: an unknown one under them is a JSON 404, never the app. */
const RESERVED = /^\/(?:api|files|dev|assets|docs|openapi\.json|health|ready)(?:\/|$)/

/**
 * The segments of a URL path, each decoded, or undefined for anything that could leave the directory or name
 * something odd: `..` or `.` (also encoded), a separator or a NUL inside a segment (`%2F`, `%5C`), an empty segment
 * (`//etc/passwd`; a trailing one is dropped), or an encoding that does not decode.
 */
export const safeSegments = (pathname: string): ReadonlyArray<string> | undefined => {
  const segments: Array<string> = []
  const parts = pathname.split("/").slice(1)
  // "/" is the directory itself, and "/exports/" the same route as "/exports".
  if (parts[parts.length - 1] === "") parts.pop()
  for (const raw of parts) {
    let segment: string
    try {
      segment = decodeURIComponent(raw)
    } catch {
      return undefined
    }
    if (segment === "" || segment === "." || segment === ".." || /[/\\\0]/.test(segment)) return undefined
    segments.push(segment)
  }
  return segments
}

/** Whether a browser asks for a page: a navigation names text/html; `*` / `*` takes one too. */
const acceptsHtml = (accept: string | undefined): boolean =>
  accept !== undefined && /(^|,)\s*(text\/html|\*\/\*)\s*(;|,|$)/i.test(accept)

/**
 * The path of a request's URL as the client sent it: not resolved as a URL parser would (`/a/../b` is `/b` to one),
 * so that a `..` is seen, and refused, rather than quietly removed.
 */
const rawPathOf = (url: string): string => {
  const path = url.startsWith("/") ? url : new URL(url, "http://localhost").pathname
  const end = path.search(/[?#]/)
  return end === -1 ? path : path.slice(0, end)
}

/** The regular file at `segments` under `root`, its real path inside the real root (no link leads out), or none. */
const fileUnder = (root: string, segments: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    try {
      const realRoot = await realpath(root)
      const real = await realpath(resolve(realRoot, ...segments))
      if (!real.startsWith(realRoot + sep)) return undefined
      const info = await stat(real)
      return info.isFile() ? { path: real, size: info.size } : undefined
    } catch {
      return undefined
    }
  })

const notFound = (path: string) => currentErrorResponse(404, "not_found", `No route for GET ${path}.`)

const NOT_BUILT = "The web app is not built here: there is no index.html in the web app's directory (WEB_APP_DIR). " +
  "Build it (npm start builds it when it is missing), or use the API directly: its documentation is at /docs.\n"

/** A file streamed from disk, with its type, its caching and the security headers. */
const fileResponse = (file: { readonly path: string; readonly size: number }, cacheControl: string) =>
  HttpServerResponse.raw(createReadStream(file.path), {
    headers: {
      ...SECURITY_HEADERS,
      "content-type": contentTypeOf(file.path),
      "content-length": String(file.size),
      "cache-control": cacheControl
    }
  })

/** index.html, or a short page saying the app is not built; revalidated by its ETag. */
const indexResponse = (root: string, ifNoneMatch: string | undefined) =>
  Effect.flatMap(fileUnder(root, ["index.html"]), (file) => {
    if (file === undefined) {
      return Effect.succeed(
        HttpServerResponse.text(NOT_BUILT, {
          status: 404,
          contentType: "text/plain; charset=utf-8",
          headers: { ...SECURITY_HEADERS, "cache-control": "no-store" }
        })
      )
    }
    return Effect.promise(() => readFile(file.path)).pipe(Effect.map((html) => {
      const etag = `"${createHash("sha256").update(html).digest("base64url").slice(0, 27)}"`
      const headers = { ...SECURITY_HEADERS, "cache-control": REVALIDATE, etag }
      return ifNoneMatch === etag
        ? HttpServerResponse.empty({ status: 304, headers })
        : HttpServerResponse.uint8Array(html, { contentType: CONTENT_TYPES[".html"]!, headers })
    }))
  })

/** The app's routes: /assets/* and, for every other GET no other route answers, the app's files and pages. */
export const layer = (settings: WebAppSettings) =>
  HttpApiBuilder.Router.use((router) =>
    Effect.gen(function*() {
      const root = resolve(settings.root)

      yield* router.get(
        "/assets/*",
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const pathname = rawPathOf(request.url)
          const segments = safeSegments(pathname)
          const file = segments === undefined ? undefined : yield* fileUnder(root, segments)
          // A missing script is a 404, never the app's page: a browser would refuse HTML as a module anyway.
          return file === undefined ? yield* notFound(pathname) : fileResponse(file, IMMUTABLE)
        })
      )

      const page = Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const pathname = rawPathOf(request.url)
        if (RESERVED.test(pathname)) return yield* notFound(pathname)
        const segments = safeSegments(pathname)
        if (segments === undefined) return yield* notFound(pathname)
        const isIndex = segments.length === 0 || segments.length === 1 && segments[0] === "index.html"
        if (!isIndex) {
          const file = yield* fileUnder(root, segments)
          if (file !== undefined) return fileResponse(file, REVALIDATE)
        }
        // The app's own routes (/exports, /exports/{jobId}, ...) are index.html's, for a browser asking for a page.
        if (isIndex || acceptsHtml(request.headers["accept"])) {
          return yield* indexResponse(root, request.headers["if-none-match"])
        }
        return yield* notFound(pathname)
      })
      yield* router.get("/", page)
      yield* router.get("*", page)
    })
  )

/** The app in WEB_APP_DIR (the repository's `web/dist` unless set). */
export const layerConfig = Layer.unwrapEffect(Effect.map(webAppDirConfig, (root) => layer({ root })))

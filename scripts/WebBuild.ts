// The web app's build (`web/` to `web/dist`) and whether it is up to date. The build records what it was made from
// (every source module Vite bundled, by content hash, and the lock file for what came from node_modules), so that
// `npm start` and the tests rebuild only when one of those changed, or the build is missing.
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, isAbsolute, join, relative } from "node:path"
import { gzipSync } from "node:zlib"

const ROOT = join(import.meta.dirname, "..")
export const WEB_ROOT = join(ROOT, "web")
export const WEB_DIST = join(WEB_ROOT, "dist")
/** What the last build was made from. Beside the build rather than in it: the server serves `web/dist`. */
export const BUILD_STAMP = join(WEB_ROOT, ".build-stamp.json")

/** Files that shape the build without being modules of it. */
const BUILD_FILES = [
  "web/index.html",
  "web/vite.config.ts",
  "web/tsconfig.json",
  "package-lock.json",
  "scripts/WebBuild.ts"
]

interface Stamp {
  readonly inputs: Readonly<Record<string, string>>
}

const hashOf = (path: string): string | undefined =>
  existsSync(path) ? createHash("sha256").update(readFileSync(path)).digest("hex") : undefined

/** Source modules of a build, relative to the repository: what is not a package (the lock file covers those). */
const sourceModules = (moduleIds: Iterable<string>): ReadonlyArray<string> =>
  [...moduleIds]
    .map((id) => id.split("?")[0]!)
    .filter((id) => isAbsolute(id) && !id.includes("/node_modules/") && existsSync(id))
    .map((id) => relative(ROOT, id))

/** Writes the stamp of a build made from `moduleIds`: Vite's module graph, read once the bundle is written. */
export const writeStamp = (moduleIds: Iterable<string>): void => {
  const files = [...new Set([...BUILD_FILES, ...sourceModules(moduleIds)])].sort()
  const inputs = Object.fromEntries(files.map((file) => [file, hashOf(join(ROOT, file)) ?? "missing"]))
  writeFileSync(BUILD_STAMP, `${JSON.stringify({ inputs } satisfies Stamp, null, 2)}\n`)
}

export type BuildState =
  | { readonly _tag: "Fresh" }
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Stale"; readonly changed: string }

/**
 * Whether `web/dist` is the build of the sources as they are. A file added to the app matters only once a module of
 * the build imports it, and that module's hash then changes: comparing the recorded inputs is enough.
 */
export const buildState = (): BuildState => {
  if (!existsSync(join(WEB_DIST, "index.html")) || !existsSync(BUILD_STAMP)) return { _tag: "Missing" }
  const stamp = JSON.parse(readFileSync(BUILD_STAMP, "utf8")) as Stamp
  for (const [file, hash] of Object.entries(stamp.inputs)) {
    if ((hashOf(join(ROOT, file)) ?? "missing") !== hash) return { _tag: "Stale", changed: file }
  }
  return { _tag: "Fresh" }
}

/**
 * Builds the app with Vite, on the Node that runs this (npm scripts: the pinned one). Always a production build:
 * vitest sets NODE_ENV=test, with which React's development build would be bundled (about 60 KiB more).
 */
export const buildWeb = (): void => {
  execFileSync(process.execPath, [join(ROOT, "node_modules", "vite", "bin", "vite.js"), "build", WEB_ROOT], {
    cwd: ROOT,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, NODE_ENV: "production" }
  })
}

/** Builds the app unless its build is that of the current sources; says why it builds. */
export const ensureWebBuild = (log: (line: string) => void = () => {}): void => {
  const state = buildState()
  if (state._tag === "Fresh") return
  log(state._tag === "Missing" ? "web app: no build yet, building it" : `web app: ${state.changed} changed, rebuilding`)
  buildWeb()
}

export interface ScriptSize {
  /** Relative to `web/dist`. */
  readonly file: string
  readonly bytes: number
  readonly gzipBytes: number
}

const SCRIPT_TAGS = /<script\b[^>]*\bsrc="\/([^"]+\.js)"/g
const PRELOAD_TAGS = /<link\b[^>]*\brel="modulepreload"[^>]*\bhref="\/([^"]+\.js)"/g
/** A static import in a minified chunk (`import{a as b}from"./x.js"`, `import"./x.js"`); not `import(...)`. */
const STATIC_IMPORTS = /\bimport\s*(?:[\w$*{},\s]+?\s*from\s*)?["'](\.{1,2}\/[^"']+\.js)["']/g

/**
 * The JavaScript the first page loads before it can run: the scripts and module preloads of `index.html` and,
 * transitively, what they import statically. Chunks loaded by `import()` later (the chart) are not counted.
 * Sizes gzipped at zlib's default level, as a server compresses on the fly.
 */
export const firstPageScripts = (): ReadonlyArray<ScriptSize> => {
  const html = readFileSync(join(WEB_DIST, "index.html"), "utf8")
  const pending = [...html.matchAll(SCRIPT_TAGS), ...html.matchAll(PRELOAD_TAGS)].map((match) => match[1]!)
  const seen = new Map<string, ScriptSize>()
  while (pending.length > 0) {
    const file = pending.pop()!
    if (seen.has(file)) continue
    const code = readFileSync(join(WEB_DIST, file))
    seen.set(file, { file, bytes: code.length, gzipBytes: gzipSync(code).length })
    for (const match of code.toString("utf8").matchAll(STATIC_IMPORTS)) {
      pending.push(relative(WEB_DIST, join(WEB_DIST, dirname(file), match[1]!)))
    }
  }
  return [...seen.values()].sort((a, b) => a.file.localeCompare(b.file))
}

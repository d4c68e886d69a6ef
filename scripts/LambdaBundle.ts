// How a Lambda bundle is built (ADR 15, ADR 42): the esbuild options `npm run build` uses for both functions and
// `npm run bench:coldstart` uses for its peer, so that the peer is bundled exactly as the functions are.
import type { BuildOptions, Metafile, Plugin } from "esbuild"
import { readFile } from "node:fs/promises"
import { ESBUILD_NODE_TARGET } from "./NodeTarget.js"

// Some CommonJS dependencies call `require` for Node's own modules; an ES module has none, so give it one.
const REQUIRE_SHIM = [
  "import { createRequire as __bundleCreateRequire } from \"node:module\";",
  "const require = __bundleCreateRequire(import.meta.url);"
].join("\n")

/** The only exports of `effect`'s barrel that are not modules: functions of `effect/Function`. */
const EFFECT_FUNCTIONS = new Set(["absurd", "flow", "hole", "identity", "pipe", "unsafeCoerce"])

/** Imports from the barrels whose every export is a module of the package, re-exported as `export * as X`. */
const BARREL_IMPORT = /^import \{([^}]*)\} from "(effect|@effect\/platform|@effect\/platform-node)"/gm

/**
 * `import { Effect, Schema as S, pipe } from "effect"` as the imports of the modules themselves:
 * `import * as Effect from "effect/Effect"`, `import * as S from "effect/Schema"`,
 * `import { pipe } from "effect/Function"`. Type-only names are dropped (they have no value to import).
 */
export const subpathImports = (source: string): string =>
  source.replace(
    BARREL_IMPORT,
    (_statement, names: string, barrel: string) =>
      names.split(",").map((name) => name.trim()).filter((name) => name !== "" && !name.startsWith("type "))
        .map((name) => {
          const [imported = name, local = imported] = name.split(/\s+as\s+/)
          if (barrel === "effect" && EFFECT_FUNCTIONS.has(imported)) {
            return `import { ${name} } from "effect/Function"`
          }
          return `import * as ${local} from "${barrel}/${imported}"`
        }).join("\n")
  )

/**
 * esbuild cannot tree-shake a module reached through a barrel's `export * as X` (evanw/esbuild#1420): every module
 * the project names from `effect` or `@effect/platform` came whole, with whatever it imports (fast-check through
 * `Schema`, Swagger UI through `HttpApiSwagger`). The project's sources keep the house style's barrel imports; the
 * bundle reads them as the subpath imports they stand for, which esbuild shakes.
 */
const subpathImportsPlugin = (sourceRoot: string): Plugin => ({
  name: "subpath-imports",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) =>
      args.path.startsWith(sourceRoot)
        ? { contents: subpathImports(await readFile(args.path, "utf8")), loader: "ts" }
        : undefined)
  }
})

/** What every build of a function's code shares, its bundle's and its startup snapshot's script's. */
const functionCodeOptions: BuildOptions = {
  bundle: true,
  platform: "node",
  target: ESBUILD_NODE_TARGET,
  minify: true,
  mainFields: ["module", "main"],
  legalComments: "none",
  logLevel: "warning"
}

/**
 * `index.mjs`, an ES module exporting `handler`, minified, for the pinned Node major, in `outdir` (the caller's,
 * with the entry point). `mainFields` prefers a package's ES module build: the AWS SDK's `dist-es` lets esbuild drop
 * the commands and shapes a client never sends, where its `dist-cjs` is one file per client kept whole. Code
 * splitting keeps what the SDK itself loads with `import()` only on paths a Lambda function does not take (the
 * credential providers after the environment's, the browser's user agent parser, event streams) in chunks of its
 * own beside `index.mjs`, loaded if ever taken; everything else is in `index.mjs` and the chunks it imports.
 */
export const lambdaBundleOptions = (sourceRoot: string): BuildOptions => ({
  ...functionCodeOptions,
  entryNames: "index",
  chunkNames: "[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  splitting: true,
  format: "esm",
  banner: { js: REQUIRE_SHIM },
  plugins: [subpathImportsPlugin(sourceRoot)]
})

/**
 * Node's built-in modules a snapshot must not hold (ADR 52): `http` and `https` load the HTTP parser's binding,
 * whose handles V8 cannot serialise (`--build-snapshot` aborts: "global handle not serialized: HTTPParser"). The
 * AWS SDK and the ClickHouse client import them at the top of modules that build nothing with them until a request.
 */
export const SNAPSHOT_DEFERRED_BUILTINS = ["http", "https"] as const

/**
 * Each of SNAPSHOT_DEFERRED_BUILTINS as a module that loads the real one on first use, after deserialisation: its
 * export names are known at bundle time (esbuild's interop lists them), every value is read from the real module.
 * A bundle whose code reads one of their values while it loads still fails the snapshot's build, as it should.
 */
const deferredBuiltinsPlugin: Plugin = {
  name: "snapshot-deferred-builtins",
  setup(build) {
    const names = new RegExp(`^(node:)?(${SNAPSHOT_DEFERRED_BUILTINS.join("|")})$`)
    build.onResolve({ filter: names }, (args) => ({
      path: args.path.replace(/^node:/, ""),
      namespace: "snapshot-deferred-builtin"
    }))
    build.onLoad({ filter: /.*/, namespace: "snapshot-deferred-builtin" }, (args) => {
      const id = `node:${args.path}`
      const exported = Object.keys(process.getBuiltinModule(id) as object)
      return {
        loader: "js",
        contents: `const names = new Set(${JSON.stringify(exported)})
let loaded
const load = () => loaded ??= process.getBuiltinModule(${JSON.stringify(id)})
module.exports = new Proxy({}, {
  get: (_, key) => key === "__esModule" ? undefined : load()[key],
  has: (_, key) => names.has(key),
  ownKeys: () => [...names],
  getOwnPropertyDescriptor: (_, key) =>
    names.has(key) ? { configurable: true, enumerable: true, get: () => load()[key] } : undefined
})
`
      }
    })
  }
}

/**
 * The script a V8 startup snapshot is built from (`node --build-snapshot`, ADR 52): one CommonJS file with every
 * module in it, since the snapshot's entry may `require` Node's built-in modules only, and `import()` has no place in
 * it. The same transforms as `lambdaBundleOptions` (subpath imports, the SDK's ES modules), without splitting: the
 * SDK's lazily loaded paths stay lazy inside the file, evaluated only if ever taken.
 */
export const lambdaSnapshotBundleOptions = (sourceRoot: string): BuildOptions => ({
  ...functionCodeOptions,
  format: "cjs",
  plugins: [subpathImportsPlugin(sourceRoot), deferredBuiltinsPlugin]
})

/** The size a bundle may have (issue 18, ADR 42): what Node loads of it before the handler exists. */
export const BUNDLE_LIMIT_BYTES = 1024 * 1024

/** The output files of a split build: those `index.mjs` loads with it (itself first), and those it may load later. */
export const outputsOf = (metafile: Metafile) => {
  const paths = Object.keys(metafile.outputs).filter((path) => path.endsWith(".mjs"))
  // Each `import()` target is an entry point of its own in the metafile: the handler's is the one named index.
  const entry = paths.find((path) => path.endsWith("/index.mjs"))
  if (entry === undefined) throw new Error("the metafile has no index.mjs")
  const atStart = new Set<string>()
  const pending = [entry]
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (atStart.has(path)) continue
    atStart.add(path)
    for (const imported of metafile.outputs[path]?.imports ?? []) {
      if (imported.kind === "import-statement" && imported.external !== true) pending.push(imported.path)
    }
  }
  const bytesOf = (files: ReadonlyArray<string>) =>
    files.reduce((sum, path) => sum + (metafile.outputs[path]?.bytes ?? 0), 0)
  const loadedAtStart = [...atStart]
  const loadedLater = paths.filter((path) => !atStart.has(path))
  return {
    loadedAtStart,
    loadedLater,
    bytesAtStart: bytesOf(loadedAtStart),
    bytesLater: bytesOf(loadedLater),
    /** The source files (node_modules/... or src/...) that went into `outputs`. */
    inputsOf: (outputs: ReadonlyArray<string>) =>
      [...new Set(outputs.flatMap((path) => Object.keys(metafile.outputs[path]?.inputs ?? {})))].sort()
  }
}

// `npm run build`: the two Lambda bundles, each one ES module exporting `handler`, with its source map, plus a zip of
// each ready to upload. Prints their sizes. The AWS SDK is bundled (ADR 15), so a bundle runs the SDK version the
// tests ran, whatever version the Lambda runtime ships.
//   dist/lambda/api/index.mjs      dist/lambda/api.zip      dist/lambda/api.meta.json
//   dist/lambda/worker/index.mjs   dist/lambda/worker.zip   dist/lambda/worker.meta.json
// The `.meta.json` files are esbuild's metafiles: which source files went into each bundle (tests read them).
import { build } from "esbuild"
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { ZipFile } from "yazl"
import { ESBUILD_NODE_TARGET } from "./NodeTarget.js"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..")
const OUT = join(ROOT, "dist", "lambda")

export const BUNDLES = ["api", "worker"] as const

// Some CommonJS dependencies call `require` for Node's own modules; an ES module has none, so give it one.
const REQUIRE_SHIM = [
  "import { createRequire as __bundleCreateRequire } from \"node:module\";",
  "const require = __bundleCreateRequire(import.meta.url);"
].join("\n")

const zipDirectory = (directory: string, zipPath: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const zip = new ZipFile()
    for (const name of readdirSync(directory).sort()) {
      // A fixed time, so that the same bundle makes the same zip (and CDK sees no change to deploy).
      zip.addBuffer(readFileSync(join(directory, name)), name, { mtime: new Date(Date.UTC(2020, 0, 1)), mode: 0o644 })
    }
    zip.end()
    zip.outputStream.pipe(createWriteStream(zipPath)).on("close", resolve).on("error", reject)
  })

const size = (path: string) => `${(statSync(path).size / 1024).toFixed(0)} KiB`

rmSync(OUT, { recursive: true, force: true })
for (const name of BUNDLES) {
  const directory = join(OUT, name)
  mkdirSync(directory, { recursive: true })
  const result = await build({
    entryPoints: [join(ROOT, "src", "runtimes", "lambda", `${name}.ts`)],
    outfile: join(directory, "index.mjs"),
    bundle: true,
    platform: "node",
    target: ESBUILD_NODE_TARGET,
    format: "esm",
    minify: true,
    sourcemap: "linked",
    sourcesContent: false,
    legalComments: "none",
    banner: { js: REQUIRE_SHIM },
    metafile: true,
    logLevel: "warning"
  })
  writeFileSync(join(OUT, `${name}.meta.json`), JSON.stringify(result.metafile))
  await zipDirectory(directory, join(OUT, `${name}.zip`))
  const bundle = join(directory, "index.mjs")
  process.stdout.write(
    `${relative(ROOT, bundle)}: ${size(bundle)} (zip ${size(join(OUT, `${name}.zip`))}), ` +
      `${Object.keys(result.metafile.inputs).length} source files\n`
  )
}

// `npm run build`: the two Lambda bundles, each one ES module exporting `handler`, with its source map, plus a zip of
// each ready to upload. Prints their sizes. The AWS SDK is bundled (ADR 15), so a bundle runs the SDK version the
// tests ran, whatever version the Lambda runtime ships.
//   dist/lambda/api/index.mjs      dist/lambda/api.zip      dist/lambda/api.meta.json
//   dist/lambda/worker/index.mjs   dist/lambda/worker.zip   dist/lambda/worker.meta.json
// The `.meta.json` files are esbuild's metafiles: which source files went into each bundle (tests read them).
// Beside each bundle, the function for the custom runtime (ADR 52, scripts/LambdaSnapshot.ts): its startup snapshot
// built by this Node binary, which it ships, for this machine's architecture:
//   dist/lambda/api-snapshot/{bootstrap,node,snapshot.blob,manifest.json}   (and worker-snapshot)
import { build } from "esbuild"
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { ZipFile } from "yazl"
import { BUNDLE_LIMIT_BYTES, lambdaBundleOptions, outputsOf } from "./LambdaBundle.js"
import { buildLambdaSnapshot, SNAPSHOT_FILES } from "./LambdaSnapshot.js"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..")
const OUT = join(ROOT, "dist", "lambda")

export const BUNDLES = ["api", "worker"] as const

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
    outdir: directory,
    ...lambdaBundleOptions(join(ROOT, "src")),
    sourcemap: "linked",
    sourcesContent: false,
    metafile: true
  })
  writeFileSync(join(OUT, `${name}.meta.json`), JSON.stringify(result.metafile))
  await zipDirectory(directory, join(OUT, `${name}.zip`))
  const outputs = outputsOf(result.metafile)
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`
  const sources = Object.keys(result.metafile.inputs).length
  process.stdout.write(
    `${relative(ROOT, join(directory, "index.mjs"))}: ${kib(outputs.bytesAtStart)} loaded at start in ` +
      `${outputs.loadedAtStart.length} files (limit ${kib(BUNDLE_LIMIT_BYTES)}), ${kib(outputs.bytesLater)} more ` +
      `only when an import() asks (the SDK's; the API's uploads), zip ${size(join(OUT, `${name}.zip`))}, ` +
      `${sources} source files\n`
  )
  const snapshot = join(OUT, `${name}-snapshot`)
  const manifest = await buildLambdaSnapshot(name, join(ROOT, "src"), snapshot, join(OUT, `${name}.snapshot.cjs`))
  process.stdout.write(
    `${relative(ROOT, snapshot)}: startup snapshot ${size(join(snapshot, SNAPSHOT_FILES.blob))} for Node ` +
      `${manifest.node} on ${manifest.platform}-${manifest.arch} only (the binary beside it built it), NODE_OPTIONS ` +
      `${JSON.stringify(manifest.nodeOptions)}\n`
  )
}

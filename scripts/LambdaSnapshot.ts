// A function on the custom runtime (provided.al2023, ADR 52): the directory `npm run build` writes beside each
// bundle, which the stack takes as the function's code when asked to (`-c functionRuntime=snapshot`):
//   bootstrap       what Lambda starts: the Node binary below on the blob below
//   node            the pinned Node binary, the one that built the blob (a blob is refused by any other)
//   snapshot.blob   the V8 startup snapshot: every module of the function evaluated; the handler is made after
//                   deserialisation (src/runtimes/lambda/SnapshotMain.ts)
//   manifest.json   what the blob is tied to: Node's version, the CPU architecture and platform, the flags
// The blob is valid only for that binary, architecture and those flags: it is built here with the binary it ships,
// so the function runs on the architecture of the machine that ran `npm run build` (the manifest says which).
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { chmodSync, copyFileSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { lambdaProcessEnvironment } from "../src/runtimes/lambda/LambdaProcessSettings.js"
import type { LambdaFunctionName } from "../src/runtimes/lambda/LambdaProcessSettings.js"
import { lambdaSnapshotBundleOptions } from "./LambdaBundle.js"
import { NODE_VERSION } from "./NodeTarget.js"

export const SNAPSHOT_FILES = {
  bootstrap: "bootstrap",
  node: "node",
  blob: "snapshot.blob",
  manifest: "manifest.json"
} as const

export interface SnapshotManifest {
  readonly node: string
  readonly arch: string
  readonly platform: string
  /** NODE_OPTIONS at build, which the function's environment must give at run time too. */
  readonly nodeOptions: string
  readonly nodeSha256: string
}

const ENTRIES: Record<LambdaFunctionName, string> = { api: "ApiSnapshot.ts", worker: "WorkerSnapshot.ts" }

// The shell Lambda runs first. NODE_OPTIONS comes from the function's environment, as on the stock runtime.
const BOOTSTRAP = `#!/bin/sh
# The function's startup snapshot on the Node binary that built it (scripts/LambdaSnapshot.ts, ADR 52).
exec "$LAMBDA_TASK_ROOT/${SNAPSHOT_FILES.node}" --snapshot-blob "$LAMBDA_TASK_ROOT/${SNAPSHOT_FILES.blob}"
`

export const readSnapshotManifest = (directory: string): SnapshotManifest =>
  JSON.parse(readFileSync(join(directory, SNAPSHOT_FILES.manifest), "utf8")) as SnapshotManifest

/**
 * Writes `directory` for `name`: its snapshot's script bundled into `scriptPath` (outside the directory: the blob
 * holds it), the blob built by this process's Node binary under the function's process settings, and that binary.
 */
export const buildLambdaSnapshot = async (
  name: LambdaFunctionName,
  sourceRoot: string,
  directory: string,
  scriptPath: string
): Promise<SnapshotManifest> => {
  if (process.version !== `v${NODE_VERSION}`) {
    throw new Error(`a snapshot is built with the pinned Node ${NODE_VERSION} it ships, not ${process.version}`)
  }
  rmSync(directory, { recursive: true, force: true })
  mkdirSync(directory, { recursive: true })
  await build({
    entryPoints: [join(sourceRoot, "runtimes", "lambda", ENTRIES[name])],
    outfile: scriptPath,
    ...lambdaSnapshotBundleOptions(sourceRoot)
  })
  const nodeOptions = lambdaProcessEnvironment(name)["NODE_OPTIONS"] ?? ""
  // Nothing of this machine's environment in the blob: the settings are read after deserialisation.
  const built = spawnSync(
    process.execPath,
    ["--snapshot-blob", join(directory, SNAPSHOT_FILES.blob), "--build-snapshot", scriptPath],
    { env: nodeOptions === "" ? {} : { NODE_OPTIONS: nodeOptions }, encoding: "utf8" }
  )
  if (built.status !== 0) {
    throw new Error(`${name}'s snapshot: exit ${built.status}\n${built.stderr.slice(-3000)}`)
  }
  try {
    linkSync(process.execPath, join(directory, SNAPSHOT_FILES.node))
  } catch {
    copyFileSync(process.execPath, join(directory, SNAPSHOT_FILES.node))
  }
  writeFileSync(join(directory, SNAPSHOT_FILES.bootstrap), BOOTSTRAP)
  chmodSync(join(directory, SNAPSHOT_FILES.bootstrap), 0o755)
  const manifest: SnapshotManifest = {
    node: process.version,
    arch: process.arch,
    platform: process.platform,
    nodeOptions,
    nodeSha256: createHash("sha256").update(readFileSync(process.execPath)).digest("hex")
  }
  writeFileSync(join(directory, SNAPSHOT_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`)
  return manifest
}

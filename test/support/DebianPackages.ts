// Debian packages that tests need and CI machines start without (clickhouse-server, chromium), installed with
// apt-get when their binary is missing. Test files run in parallel processes: a lock directory (mkdir is atomic)
// lets one install while the others wait. Called from vitest's globalSetup, so that an install happens once,
// before any test's timeout starts.
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, rmdirSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** apt-get holds its own lock; a lock of ours older than this was left by a run that died. */
const STALE_LOCK_MS = 10 * 60_000

const sleepSync = (millis: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, millis)

const aptGet = (args: ReadonlyArray<string>) => {
  const [command, prefix] = process.getuid?.() === 0 ? ["apt-get", []] : ["sudo", ["-n", "apt-get"]]
  execFileSync(command, [...prefix, ...args], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  })
}

/** Installs Debian's `pkg` unless `binary` exists. */
export const ensureDebianPackage = (pkg: string, binary: string): void => {
  if (existsSync(binary)) return
  const lock = join(tmpdir(), `async-data-export-${pkg}-install.lock`)
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmdirSync(lock)
      } catch {
        // Released in the meantime.
      }
      sleepSync(500)
    }
  }
  try {
    if (existsSync(binary)) return
    const install = ["install", "-y", "--no-install-recommends", pkg]
    try {
      aptGet(install)
    } catch {
      // A fresh machine has no package lists yet.
      aptGet(["update"])
      aptGet(install)
    }
    if (!existsSync(binary)) throw new Error(`apt-get installed no ${binary}`)
  } finally {
    rmdirSync(lock)
  }
}

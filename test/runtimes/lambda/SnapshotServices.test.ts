// Effect's clock and random source in a process started from a startup snapshot (ADR 52): `effect` captures both
// when its modules are evaluated, which for a snapshot is at build time. A probe snapshot built on a monotonic clock
// that reads as another machine's shows what SnapshotServices makes again: each start draws its own random numbers,
// and the clock's nanoseconds are the wall clock's.
import { describe, expect, it } from "@effect/vitest"
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { lambdaSnapshotBundleOptions } from "../../../scripts/LambdaBundle.js"

const HERE = dirname(fileURLToPath(import.meta.url))

const probe = (blob: string, services: "fresh" | "default") => {
  const started = spawnSync(process.execPath, ["--snapshot-blob", blob], {
    env: { PROBE_SERVICES: services },
    encoding: "utf8"
  })
  expect(started.status, started.stderr).toBe(0)
  const read = JSON.parse(started.stdout) as { random: number; nanos: string; now: number }
  return { random: read.random, offsetMillis: Math.abs(Number(BigInt(read.nanos) / 1_000_000n) - read.now) }
}

describe("SnapshotServices", () => {
  it("two starts of one blob draw different random numbers, on a clock that reads this machine's time", async () => {
    const work = mkdtempSync(join(tmpdir(), "snapshot-probe-"))
    try {
      const script = join(work, "probe.cjs")
      await build({
        entryPoints: [join(HERE, "snapshotProbe", "ProbeSnapshot.ts")],
        outfile: script,
        ...lambdaSnapshotBundleOptions(join(HERE, "../../../src"))
      })
      const blob = join(work, "probe.blob")
      const built = spawnSync(process.execPath, ["--snapshot-blob", blob, "--build-snapshot", script], {
        env: {},
        encoding: "utf8"
      })
      expect(built.status, built.stderr).toBe(0)

      const [first, second] = [probe(blob, "fresh"), probe(blob, "fresh")]
      expect(first.random).not.toBe(second.random)
      // Within a minute of the wall clock, where the build's origin would put it about 11.6 days off.
      expect(first.offsetMillis).toBeLessThan(60_000)

      // What the fresh services stand in for: Effect's own, from the build.
      const [before, again] = [probe(blob, "default"), probe(blob, "default")]
      expect(before.random).toBe(again.random)
      expect(before.offsetMillis).toBeGreaterThan(86_400_000)
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
  })
})

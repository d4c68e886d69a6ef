// npm records an optional platform build in package-lock.json only when the registry serves it. The registry this
// project installs from serves chdb's linux-x64 build and not the others, so a plain `npm install` leaves a lock
// that `npm ci` refuses ("Missing: @chdb/lib-darwin-arm64 from lock file"). This puts the missing entries back;
// npm skips them on install as they do not match this platform. Run it after any `npm install`. See ADR 0011.
import { readFileSync, writeFileSync } from "node:fs"

const UNSERVED = [
  { name: "@chdb/lib-darwin-arm64", os: "darwin", cpu: "arm64" },
  { name: "@chdb/lib-darwin-x64", os: "darwin", cpu: "x64" },
  { name: "@chdb/lib-linux-arm64-gnu", os: "linux", cpu: "arm64", libc: "glibc" }
]

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"))
const chdb = lock.packages["node_modules/chdb"]
let added = 0
for (const build of UNSERVED) {
  const key = `node_modules/${build.name}`
  const version = chdb?.optionalDependencies?.[build.name]
  if (version === undefined || lock.packages[key] !== undefined) continue
  lock.packages[key] = {
    version,
    cpu: [build.cpu],
    ...(build.libc === undefined ? {} : { libc: [build.libc] }),
    optional: true,
    os: [build.os]
  }
  added++
}
const byPath = (a, b) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => byPath(a, b)))
writeFileSync("package-lock.json", `${JSON.stringify(lock, null, 2)}\n`)
console.log(`lock: ${added} unserved optional build(s) recorded`)

// The embedded server's own files: the data directory and the generated secrets are this user's only, also when an
// older version (or a hand-made folder) left them readable by others.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { localSecret, privateDirectory } from "../../../src/runtimes/server/EmbeddedConfig.js"
import { temporaryDataDir } from "../../support/EndToEnd.js"
import { allPrivate, modeOf, modesUnder } from "../../support/FileModes.js"

describe("the embedded data directory", () => {
  it.scoped("is created 0700, and one an older version made 0755 is made 0700", () =>
    Effect.gen(function*() {
      const parent = yield* temporaryDataDir("ade-datadir-")
      const fresh = join(parent, "fresh", "data")
      yield* privateDirectory(fresh)
      expect(modeOf(fresh)).toBe("700")
      expect(modeOf(join(parent, "fresh"))).toBe("700")

      const older = join(parent, "older")
      mkdirSync(older, { mode: 0o755 })
      chmodSync(older, 0o755)
      yield* privateDirectory(older)
      expect(modeOf(older)).toBe("700")
    }))

  it.scoped("a generated secret is 0600 in a 0700 folder, also where an older version left them wider", () =>
    Effect.gen(function*() {
      const parent = yield* temporaryDataDir("ade-secrets-")
      const fresh = join(parent, "fresh")
      const secret = yield* localSecret(fresh, "jwt-secret")
      expect(Redacted.value(secret)).toBe(readFileSync(join(fresh, "secrets", "jwt-secret"), "utf8"))
      expect(modesUnder(fresh)).toStrictEqual({
        ".": "dir 700",
        "secrets": "dir 700",
        "secrets/jwt-secret": "file 600"
      })

      const older = join(parent, "older")
      mkdirSync(join(older, "secrets"), { recursive: true, mode: 0o755 })
      chmodSync(older, 0o755)
      chmodSync(join(older, "secrets"), 0o755)
      writeFileSync(join(older, "secrets", "link-secret"), "a-secret-an-older-version-wrote-0123456789", {
        mode: 0o644
      })
      chmodSync(join(older, "secrets", "link-secret"), 0o644)
      const kept = yield* localSecret(older, "link-secret")
      expect(Redacted.value(kept)).toBe("a-secret-an-older-version-wrote-0123456789")
      const modes = modesUnder(older)
      expect(Object.keys(modes).sort()).toStrictEqual([".", "secrets", "secrets/link-secret"])
      expect(modes).toStrictEqual(allPrivate(modes))
    }))
})

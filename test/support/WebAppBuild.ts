// A web app build as Vite writes one (index.html, hashed files under assets/), made in a fresh directory for a test
// and removed after it; beside it a secret file, and a link to that file inside the build, for the escape attempts.
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const INDEX = "<!doctype html><html><head><script type=\"module\" src=\"/assets/index-3f9a1c.js\"></script>" +
  "<link rel=\"stylesheet\" href=\"/assets/index-77be20.css\"></head><body><div id=\"root\"></div></body></html>"
export const SCRIPT = "console.log(\"the app\")\n"
export const STYLE = "body { margin: 0 }\n"
export const SECRET = "TOP SECRET: outside the web app's directory"

/** A build as Vite writes it, in a fresh directory removed afterwards; a secret file beside it, and a link to it. */
export const fixtureBuild = Effect.acquireRelease(
  Effect.sync(() => {
    const parent = mkdtempSync(join(tmpdir(), "ade-web-app-"))
    const root = join(parent, "dist")
    mkdirSync(join(root, "assets"), { recursive: true })
    writeFileSync(join(root, "index.html"), INDEX)
    writeFileSync(join(root, "assets", "index-3f9a1c.js"), SCRIPT)
    writeFileSync(join(root, "assets", "index-77be20.css"), STYLE)
    writeFileSync(join(root, "assets", "inter-latin-400.woff2"), Buffer.from([0x77, 0x4f, 0x46, 0x32]))
    writeFileSync(join(root, "assets", "data-5e1d.bin"), Buffer.from([1, 2, 3]))
    writeFileSync(join(root, "favicon.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>")
    writeFileSync(join(parent, "secret.txt"), SECRET)
    symlinkSync(join(parent, "secret.txt"), join(root, "assets", "leak.txt"))
    return { parent, root }
  }),
  ({ parent }) => Effect.sync(() => rmSync(parent, { recursive: true, force: true }))
)

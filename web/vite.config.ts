// The web app's build: `vite build web` (scripts/web.ts). No React plugin: Vite's own transform compiles JSX
// (ADR 38), and the build records what it was made from so that `npm start` rebuilds only when needed.
import { defineConfig } from "vite"
import type { Plugin } from "vite"
import { writeStamp } from "../scripts/WebBuild.js"

const buildStamp = (): Plugin => ({
  name: "async-data-export:build-stamp",
  apply: "build",
  writeBundle() {
    writeStamp(this.getModuleIds())
  }
})

const apiOrigin = process.env["API_ORIGIN"] ?? "http://127.0.0.1:3000"

export default defineConfig({
  plugins: [buildStamp()],
  build: {
    target: "es2022",
    // The budget is enforced by test/web/BundleSize.test.ts on the first page's JavaScript, gzipped.
    chunkSizeWarningLimit: 700
  },
  server: {
    // `npm run web:dev` beside `npm start`: the API on its default port, or at API_ORIGIN.
    proxy: { "/api": apiOrigin, "/files": apiOrigin }
  },
  // `vite preview web` serves the build as the Node runtimes do: the same policy, the API behind it.
  preview: { headers: { "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'" } }
})

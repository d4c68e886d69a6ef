// The web app's build: `vite build web` (scripts/web.ts). No React plugin: Vite's own transform compiles JSX
// (ADR 36), and the build records what it was made from so that `npm start` rebuilds only when needed.
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

export default defineConfig({
  plugins: [buildStamp()],
  build: {
    target: "es2022",
    // The budget is enforced by test/web/BundleSize.test.ts on the first page's JavaScript, gzipped.
    chunkSizeWarningLimit: 700
  },
  server: {
    // `npm run web:dev` beside `npm start`: the API on its default port.
    proxy: { "/api": "http://127.0.0.1:3000", "/files": "http://127.0.0.1:3000" }
  }
})

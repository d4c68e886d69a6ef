// `npm run build:web` (`build`): builds the web app into web/dist. `npm start` runs `ensure` first: builds it only
// when its build is missing or was made from other sources (WebBuild.ts).
import { buildWeb, ensureWebBuild, firstPageScripts } from "./WebBuild.js"

const command = process.argv[2]
if (command === "build") {
  buildWeb()
  const gzip = firstPageScripts().reduce((total, script) => total + script.gzipBytes, 0)
  process.stdout.write(`first page's JavaScript: ${(gzip / 1024).toFixed(1)} KiB gzipped (budget 200 KiB)\n`)
} else if (command === "ensure") ensureWebBuild((line) => process.stdout.write(`${line}\n`))
else {
  process.stderr.write("Usage: tsx scripts/web.ts build|ensure\n")
  process.exit(2)
}

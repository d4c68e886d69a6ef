// `npm run -s decode-stack -- DIR < trace.txt`: a stack trace from a Lambda function's logs, with its bundle's
// minified positions (`/var/task/index.mjs:1:23456`, `chunk-AB12CD34.mjs:...`) mapped to the sources, through the
// `.map` files beside the bundle in DIR: dist/lambda/api or dist/lambda/worker of the deployed commit's
// `npm run build`, or the function's own package unzipped. The functions run without `--enable-source-maps`, whose
// parse of the whole map costs every cold start a third of a second (ADR 47); the maps are decoded here instead.
import { existsSync, readFileSync } from "node:fs"
import { SourceMap } from "node:module"
import type { SourceMapPayload } from "node:module"
import { join, relative, resolve } from "node:path"

const [directory] = process.argv.slice(2)
if (directory === undefined || !existsSync(join(directory, "index.mjs.map"))) {
  process.stderr.write("Usage: npm run -s decode-stack -- DIR < trace.txt (DIR holds index.mjs and its .map)\n")
  process.exit(2)
}

const maps = new Map<string, SourceMap | undefined>()
const mapOf = (file: string) => {
  if (!maps.has(file)) {
    const path = join(directory, `${file}.map`)
    maps.set(
      file,
      existsSync(path) ? new SourceMap(JSON.parse(readFileSync(path, "utf8")) as SourceMapPayload) : undefined
    )
  }
  return maps.get(file)
}

// A position in one of the bundle's files, however the trace spells its directory (file:///var/task/, /var/task/).
const POSITION = /(?:file:\/\/)?(?:[^\s()]*\/)?((?:index|chunk-[\w-]+)\.mjs):(\d+):(\d+)/g

const decodeLine = (line: string) =>
  line.replace(POSITION, (position: string, file: string, line: string, column: string) => {
    const entry = mapOf(file)?.findEntry(Number(line) - 1, Number(column) - 1)
    if (entry === undefined || !("originalSource" in entry)) return position
    const source = relative(process.cwd(), resolve(directory, entry.originalSource))
    // Node fills in the name the map gives the position, which its types leave out.
    const { name } = entry as { readonly name?: string }
    const named = name === undefined ? "" : ` (${name})`
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}${named}`
  })

process.stdout.write(readFileSync(0, "utf8").split("\n").map(decodeLine).join("\n"))

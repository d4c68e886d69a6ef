// What the two fronts over chdb (the tests' ChdbHttpServer and bench:export's chdbHttpFront) read of ClickHouse's
// HTTP interface alike: which URL parameters belong to the interface rather than being query settings, the FORMAT
// clause a statement ends with, and the statement sent in the body.
import type { IncomingMessage } from "node:http"

/** Parameters of the HTTP interface itself, not query settings. */
export const HTTP_ONLY: ReadonlySet<string> = new Set([
  "query",
  "query_id",
  "database",
  "default_format",
  "user",
  "password",
  "session_id",
  "session_timeout",
  "session_check",
  "compress",
  "decompress",
  "enable_http_compression",
  "send_progress_in_http_headers",
  "http_headers_progress_interval_ms",
  "wait_end_of_query",
  "buffer_size",
  "role",
  "quota_key"
])

/** A statement's trailing `FORMAT name`, its name captured. */
export const TRAILING_FORMAT = /\s+FORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$/i

/** The request's body, as text. */
export const readBody = (request: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.on("error", reject)
  })

// The baseline of `npm run bench:accept`: a bare node:http server that reads and parses the JSON body of an
// export request and answers 202 with a small JSON body, as the service does, and does nothing else (no auth,
// no validation, no job). Listens on 127.0.0.1 on a free port and prints a ready line with it.
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import { announceReady, serveParent } from "./childProtocol.js"

const server = createServer((request, response) => {
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    let body: unknown
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
    } catch {
      body = undefined
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      const error = JSON.stringify({ error: { code: "malformed_json", message: "The body is not valid JSON." } })
      response.writeHead(400, { "content-type": "application/json", "content-length": Buffer.byteLength(error) })
      response.end(error)
      return
    }
    const jobId = randomUUID()
    const statusUrl = `/api/v1/reports/exports/${jobId}`
    const payload = JSON.stringify({ jobId, status: "queued", statusUrl })
    response.writeHead(202, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(payload),
      location: statusUrl
    })
    response.end(payload)
  })
})

serveParent()
process.on("SIGTERM", () => server.close(() => process.exit(0)))
server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  announceReady(typeof address === "object" && address !== null ? address.port : 0)
})

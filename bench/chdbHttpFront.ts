// bench:export's `--engine chdb-http` server: ClickHouse's HTTP interface, as much of it as the bench's runs use, in
// front of chdb (ClickHouse 26.x), in a process of its own, so that the joined run and the pipeline read one server
// that writes the export's CSV itself (ADR 53) over HTTP, as they read 18.16. Unlike the tests' front
// (test/support/servers/ChdbHttpServer.ts), it streams: each block the engine hands on is written as it comes, held
// back while the socket is full. Started as `node chdbHttpFront.mjs <dataDir>`; prints its port, then serves on
// 127.0.0.1 until killed. Queries of `system.processes` (the adapter's progress reads) and KILLs are answered empty:
// progress is off the rows' path, and nothing is killed in a bench that succeeds.
import { Session } from "chdb"
import { createServer } from "node:http"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { HTTP_ONLY, readBody, TRAILING_FORMAT } from "../test/support/servers/ClickHouseHttpInterface.js"

const dataDir = process.argv[2]
if (dataDir === undefined) throw new Error("usage: chdbHttpFront <dataDir>")

const ANSWERED_EMPTY = /^\s*KILL\s+QUERY\b|\bsystem\.processes\b/i
const STREAMED = /^\s*(SELECT|WITH)\b/i

/** Waits while the socket's buffer is full, as the server's write would. */
const written = (response: ServerResponse, bytes: Uint8Array) =>
  response.write(bytes) ? Promise.resolve() : new Promise<void>((resolve) => response.once("drain", resolve))

const answer = async (request: IncomingMessage, response: ServerResponse) => {
  const url = new URL(request.url ?? "/", "http://127.0.0.1")
  const sql = [url.searchParams.get("query"), await readBody(request)].filter((part) => part !== null && part !== "")
    .join("\n")
  const settings = [...url.searchParams].filter(([name]) => !HTTP_ONLY.has(name) && !name.startsWith("param_"))
  const format = TRAILING_FORMAT.exec(sql)?.[1] ?? "TabSeparated"
  const statement = sql.replace(TRAILING_FORMAT, "")
  const headers = { "X-ClickHouse-Query-Id": url.searchParams.get("query_id") ?? "" }
  if (ANSWERED_EMPTY.test(statement)) {
    response.writeHead(200, headers).end()
    return
  }
  const session = new Session(dataDir, { connectionArgs: settings.map(([name, value]) => `--${name}=${value}`) })
  let started = false
  try {
    if (STREAMED.test(statement)) {
      for await (const block of session.queryStream(statement, { format })) {
        if (!started) response.writeHead(200, headers)
        started = true
        await written(response, block.raw())
      }
    } else {
      const result = await session.queryAsync(statement, { format })
      response.writeHead(200, headers)
      started = true
      await written(response, result.bytes())
    }
    if (!started) response.writeHead(200, headers)
    response.end()
  } catch (cause) {
    const message = `Code: 1002. DB::Exception: ${cause instanceof Error ? cause.message : String(cause)}\n`
    // After the first bytes, ClickHouse appends its exception to the body, as this does.
    if (started) response.end(message)
    else response.writeHead(500, { ...headers, "X-ClickHouse-Exception-Code": "1002" }).end(message)
  } finally {
    session.close()
  }
}

const server = createServer((request, response) => {
  answer(request, response).catch((cause: unknown) => response.destroy(cause as Error))
})
server.listen(0, "127.0.0.1", () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`))

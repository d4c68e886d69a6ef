// A protocol front for tests over a real ClickHouse engine: ClickHouse's HTTP interface (the part the adapter uses)
// on 127.0.0.1 and a free port, in front of chdb (ClickHouse 26.x in this process) loaded with the demo orders, so
// that the catalogue's SQL with bound parameters runs where no recent ClickHouse server is installed. Results are
// answered whole, not streamed: the adapter's HTTP behaviour (streaming, errors mid-body, timeouts, KILL) is tested
// against the real 18.16 server elsewhere (test/adapters/clickhouse/ClickHouseStream.test.ts).
import { Session } from "chdb"
import { Context, Effect, Layer } from "effect"
import { createServer } from "node:http"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { ChdbEngine, chdbErrorFrom } from "../../../src/adapters/chdb/ChdbEngine.js"
import type { ChdbError } from "../../../src/adapters/chdb/ChdbEngine.js"
import * as DemoSeed from "../../../src/adapters/chdb/DemoSeed.js"
import { freshEngine } from "../../adapters/chdb/ChdbTestSupport.js"
import { HTTP_ONLY, readBody, TRAILING_FORMAT } from "./ClickHouseHttpInterface.js"

export interface ReceivedQuery {
  readonly queryId: string | null
  readonly sql: string
  readonly params: Readonly<Record<string, string>>
  readonly settings: Readonly<Record<string, string>>
}

export class ChdbHttpServer extends Context.Tag("test/ChdbHttpServer")<ChdbHttpServer, {
  /** What CLICKHOUSE_URL should be. */
  readonly url: URL
  /** The query with this `query_id` is refused with ClickHouse's error `code`, as the server would refuse it. */
  readonly failQuery: (queryId: string, code: number) => Effect.Effect<void>
  /** Every statement received, oldest first. */
  readonly received: Effect.Effect<ReadonlyArray<ReceivedQuery>>
}>() {
  /** The server over a fresh engine seeded with about `demoRows` demo order lines; the engine is an output too. */
  static readonly layer = (demoRows = 20_000): Layer.Layer<ChdbHttpServer | ChdbEngine, ChdbError> =>
    Layer.scoped(ChdbHttpServer, make).pipe(
      Layer.provideMerge(DemoSeed.layer(DemoSeed.demoSeedOfSize(demoRows)).pipe(Layer.provideMerge(freshEngine())))
    )
}

/** ClickHouse error names for the codes tests inject (the client reads the name from the message). */
const CODE_NAMES: Readonly<Record<number, string>> = {
  47: "UNKNOWN_IDENTIFIER",
  60: "UNKNOWN_TABLE",
  159: "TIMEOUT_EXCEEDED",
  241: "MEMORY_LIMIT_EXCEEDED",
  394: "QUERY_WAS_CANCELLED"
}

const SETTING_NAME = /^[a-z][a-z0-9_]*$/
const KILL = /^\s*KILL\s+QUERY\b/i

/**
 * Parameter values arrive in ClickHouse's escaped text form. The engine unescapes a String's value and reads other
 * types' text as it is; chdb escapes every JS string it binds (backslash and control characters). So a String's
 * value is unescaped here whole, and another type's has chdb's escaping undone in advance. Exact for the
 * catalogue's scalar placeholders; an array holding escaped quotes would not bind as sent.
 */
const TSV_UNESCAPE: Readonly<Record<string, string>> = { "0": "\0", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" }
const TEXT_TYPE = /^(?:(?:Nullable|LowCardinality)\()*(?:String|FixedString\(\d+\))\)*$/
const bindable = (sql: string, name: string, value: string) => {
  const type = /^\w+$/.test(name) ? new RegExp(`\\{\\s*${name}\\s*:\\s*([^}]+?)\\s*\\}`).exec(sql)?.[1] : undefined
  return type !== undefined && TEXT_TYPE.test(type)
    ? value.replace(/\\(.)/gs, (_, c: string) => TSV_UNESCAPE[c] ?? c)
    : value.replace(/\\([\\0bfnrt])/g, (_, c: string) => TSV_UNESCAPE[c] ?? c)
}

/** An error this front answers itself, as the server would have. */
class ClickHouseFailure extends Error {
  constructor(readonly code: number, message: string) {
    super(message)
  }
}

const make = Effect.gen(function*() {
  const engine = yield* ChdbEngine
  const faults = new Map<string, number>()
  const received: Array<ReceivedQuery> = []

  /** Names the engine knows as settings: it would take any other as a connection argument and ignore it. */
  const known = new Set<string>()
  const checkSettings = async (names: ReadonlyArray<string>) => {
    const unchecked = names.filter((name) => !known.has(name))
    if (unchecked.length === 0) return
    const found = await Effect.runPromise(
      engine.query("SELECT name FROM system.settings WHERE name IN {names:Array(String)}", { names: unchecked })
    )
    for (const [name] of found) known.add(String(name))
    const unknown = names.filter((name) => !known.has(name) || !SETTING_NAME.test(name))
    if (unknown.length > 0) throw new ClickHouseFailure(115, `Unknown setting ${unknown.join(", ")}. (UNKNOWN_SETTING)`)
  }

  /** One statement on a connection of its own, so its settings apply to it alone (as ChdbEngine's streams do). */
  const run = async (sql: string, params: Record<string, string>, settings: Record<string, string>) => {
    await checkSettings(Object.keys(settings))
    const format = TRAILING_FORMAT.exec(sql)?.[1] ?? "TabSeparated"
    const statement = sql.replace(TRAILING_FORMAT, "")
    const session = new Session(engine.dataDir, {
      connectionArgs: Object.entries(settings).map(([name, value]) => `--${name}=${value}`)
    })
    try {
      return (await session.queryBindAsync(statement, params, { format })).bytes()
    } finally {
      session.close()
    }
  }

  const answer = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1")
    const body = await readBody(request)
    const sql = [url.searchParams.get("query"), body].filter((part) => part !== null && part.length > 0).join("\n")
    const queryId = url.searchParams.get("query_id")
    const params: Record<string, string> = {}
    const settings: Record<string, string> = {}
    for (const [name, value] of url.searchParams) {
      if (name.startsWith("param_")) {
        params[name.slice("param_".length)] = bindable(sql, name.slice("param_".length), value)
      } else if (!HTTP_ONLY.has(name)) settings[name] = value
    }
    received.push({ queryId, sql, params, settings })
    const headers = { "X-ClickHouse-Query-Id": queryId ?? "", "X-ClickHouse-Server-Display-Name": "chdb" }
    try {
      const fault = queryId === null ? undefined : faults.get(queryId)
      if (fault !== undefined) throw new ClickHouseFailure(fault, "Fault injected by the test.")
      // Nothing runs long enough here to be worth killing: the request is answered as the server would.
      const result = KILL.test(sql) ? new Uint8Array() : await run(sql, params, settings)
      response.writeHead(200, { ...headers, "Content-Type": "application/json; charset=UTF-8" })
      response.end(result)
    } catch (cause) {
      const failure = cause instanceof ClickHouseFailure ? cause : chdbErrorFrom("query")(cause)
      const code = failure instanceof ClickHouseFailure ? failure.code : failure.clickhouseCode ?? 1002
      const message = failure.message.replace(/^.*?DB::Exception:\s*/s, "").trim()
      const name = /\([A-Z0-9_]*[A-Z]{3}[A-Z0-9_]*\)/.test(message)
        ? ""
        : ` (${CODE_NAMES[code] ?? "UNKNOWN_EXCEPTION"})`
      response.writeHead(500, {
        ...headers,
        "Content-Type": "text/plain; charset=UTF-8",
        "X-ClickHouse-Exception-Code": String(code)
      })
      response.end(`Code: ${code}. DB::Exception: ${message}${name} (version chdb)\n`)
    }
  }

  const server = yield* Effect.acquireRelease(
    Effect.async<ReturnType<typeof createServer>>((resume) => {
      const server = createServer((request, response) => {
        answer(request, response).catch((cause: unknown) => {
          response.destroy(cause instanceof Error ? cause : new Error(String(cause)))
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  const { port } = server.address() as AddressInfo
  return {
    url: new URL(`http://127.0.0.1:${port}`),
    failQuery: (queryId: string, code: number) => Effect.sync(() => void faults.set(queryId, code)),
    received: Effect.sync(() => [...received])
  }
})

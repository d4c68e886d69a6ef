// The embedded engine's own thread (ADR 44): every chdb call runs here, so that the synchronous ones (a stream's
// start, a connection's opening) block this thread's event loop, never the server's. Loaded by Node itself, without
// a build step or loader: it imports chdb, Node and types only, and uses no syntax that type stripping cannot erase.
import { drainPending, Session } from "chdb"
import type { ChdbQueryStream, StreamChunk } from "chdb"
import { mkdirSync } from "node:fs"
import { parentPort, workerData } from "node:worker_threads"
import type { Request, ThreadFailure, ThreadReply, ThreadStart, ThreadValues } from "./ChdbThreadProtocol.js"

interface OpenStream {
  readonly connection: Session
  readonly results: ChdbQueryStream
  readonly chunks: AsyncIterator<StreamChunk>
  readonly tag: string
  /** Whether a native fetch is running: set until its promise settles, even after the stream was closed. */
  fetching: boolean
}

const port = parentPort!
const start = workerData as ThreadStart
const streams = new Map<number, OpenStream>()
/** The `run` statements under way, by tag: closing the engine kills them first. */
const runs = new Set<string>()

const failureOf = (cause: unknown): ThreadFailure => {
  const props = typeof cause === "object" && cause !== null ? cause as Record<string, unknown> : {}
  const inner = props["cause"]
  return {
    message: typeof props["message"] === "string" ? props["message"] : String(cause),
    code: typeof props["code"] === "string" ? props["code"] : undefined,
    clickhouseCode: typeof props["clickhouseCode"] === "number" ? props["clickhouseCode"] : undefined,
    cause: typeof inner === "object" && inner !== null && typeof (inner as { message?: unknown }).message === "string"
      ? { message: (inner as { message: string }).message }
      : undefined
  }
}

const reply = (id: number, value: ThreadValues[keyof ThreadValues]): void => {
  const message: ThreadReply = { id, ok: true, value }
  port.postMessage(message, value instanceof Uint8Array ? [value.buffer as ArrayBuffer] : [])
}

const fail = (id: number, cause: unknown): void => {
  const message: ThreadReply = { id, ok: false, failure: failureOf(cause) }
  port.postMessage(message)
}

/** The engine's session; an engine that cannot open says why and ends its thread. */
const openSession = (): Session | undefined => {
  try {
    mkdirSync(start.dataDir, { recursive: true })
    const opened = new Session(start.dataDir, { connectionArgs: [...start.connectionArgs] })
    reply(0, null)
    return opened
  } catch (cause) {
    fail(0, cause)
    port.close()
    return undefined
  }
}

/** A block as bytes of its own, so that the reply can transfer them rather than copy a shared pool. */
const ownBytes = (chunk: StreamChunk): Uint8Array => {
  const raw = chunk.raw()
  const bytes = new Uint8Array(raw.byteLength)
  bytes.set(raw)
  return bytes
}

/** Asks the engine to stop the query tagged `tag`; why it could not, when it could not. */
const killQuery = async (session: Session, tag: string): Promise<string | null> => {
  try {
    await session.queryBindAsync("KILL QUERY WHERE Settings['log_comment'] = {tag:String} ASYNC", { tag }, {
      format: "Null"
    })
    return null
  } catch (cause) {
    return failureOf(cause).message
  }
}

// A fetch already running cannot be cancelled from the JS side (chdb defers its cancel until the fetch returns), and
// a heavy aggregation may not return for minutes: the engine is asked to stop the query. ASYNC: a synchronous KILL
// waits on the event loop that the killed query's fetch reports to, this one.
const closeStream = async (session: Session, id: number): Promise<string | null> => {
  const open = streams.get(id)
  if (open === undefined) return null
  streams.delete(id)
  const killFailed = open.fetching ? await killQuery(session, open.tag) : null
  open.results.cancel()
  open.connection.close()
  return killFailed
}

const handle = async (session: Session, request: Request): Promise<ThreadValues[keyof ThreadValues]> => {
  switch (request.op) {
    case "execute":
      await session.queryBindAsync(request.sql, request.parameters, { format: "Null" })
      return null
    case "query":
      return (await session.queryBindAsync(request.sql, request.parameters, { format: "JSONCompactEachRow" })).text()
    case "insert": {
      const summary = await session.insert({
        table: request.table,
        columns: [...request.columns],
        values: Buffer.from(request.values.buffer, request.values.byteOffset, request.values.byteLength),
        format: "JSONCompactEachRow"
      })
      return summary.rowsWritten
    }
    case "streamOpen": {
      // A new connection would open the directory again, behind the back of the engine's session.
      if (!session.open) throw new Error("the chdb engine is closed")
      const connection = new Session(start.dataDir, { connectionArgs: [...request.connectionArgs] })
      try {
        const results = connection.queryStreamBind(request.sql, request.parameters, { format: request.format })
        streams.set(request.stream, {
          connection,
          results,
          chunks: results[Symbol.asyncIterator](),
          tag: request.tag,
          fetching: false
        })
      } catch (cause) {
        connection.close()
        throw cause
      }
      return null
    }
    case "run": {
      // On a connection of its own, as a stream is, so that its settings apply to it alone.
      if (!session.open) throw new Error("the chdb engine is closed")
      const connection = new Session(start.dataDir, { connectionArgs: [...request.connectionArgs] })
      runs.add(request.tag)
      try {
        await connection.queryBindAsync(request.sql, request.parameters, { format: "Null" })
      } finally {
        runs.delete(request.tag)
        connection.close()
      }
      return null
    }
    case "kill":
      return killQuery(session, request.tag)
    case "streamNext": {
      const open = streams.get(request.stream)
      if (open === undefined) throw new Error("the stream is closed")
      open.fetching = true
      try {
        const next = await open.chunks.next()
        return next.done === true ? null : ownBytes(next.value)
      } finally {
        open.fetching = false
      }
    }
    case "streamClose":
      return closeStream(session, request.stream)
    case "close": {
      // Closing waits for every native operation still running (drainPending): a connection torn down under a
      // running query aborts the engine for the whole process.
      await Promise.all([...streams.keys()].map((id) => closeStream(session, id)))
      await Promise.all([...runs].map((tag) => killQuery(session, tag)))
      session.close()
      await drainPending()
      return null
    }
  }
}

const session = openSession()
if (session !== undefined) {
  port.on("message", (request: Request) => {
    handle(session, request).then(
      (value) => {
        reply(request.id, value)
        if (request.op === "close") port.close()
      },
      (cause: unknown) => fail(request.id, cause)
    )
  })
}

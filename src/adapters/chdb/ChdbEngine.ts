// The embedded ClickHouse of this process (chdb): one data directory, opened when the layer is built and closed when
// it is released. libchdb binds one data directory per process, so a process holds one engine at a time. The engine
// runs on a thread of its own (ChdbThread.ts, ADR 44): its synchronous calls never block this thread's event loop.
// Loaded here too, though never called here: an addon loaded only by a worker thread is unloaded when that thread
// ends, and libchdb's teardown then crashes the process (ADR 44).
import "chdb"
import { Chunk, Data, Duration, Effect, Fiber, Option, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { once } from "node:events"
import { Worker } from "node:worker_threads"
import type { ThreadReply, ThreadRequest, ThreadValues } from "./ChdbThreadProtocol.js"

/** A failure of the engine, with ClickHouse's error code when it gave one. Never leaves the chdb adapter. */
export class ChdbError extends Data.TaggedError("ChdbError")<{
  /** What the engine was asked to do: "open", "execute", "query", "insert", "stream" or "kill". */
  readonly operation: string
  /** ClickHouse's error code, e.g. 159 (TIMEOUT_EXCEEDED) or 60 (UNKNOWN_TABLE). */
  readonly clickhouseCode: number | undefined
  /** chdb's own kind of error ("CHDB_STREAM", "CHDB_CONNECTION", ...). */
  readonly kind: string | undefined
  readonly message: string
}> {}

/** Values for `{name:Type}` placeholders, bound by the engine: they never enter the SQL text. */
export type ChdbParameters = Readonly<
  Record<string, string | number | bigint | boolean | ReadonlyArray<string | number | bigint>>
>

/** ClickHouse settings for one query, such as `max_execution_time`. */
export type ChdbSettings = Readonly<Record<string, string | number | boolean>>

export interface StreamOptions {
  readonly settings?: ChdbSettings
  /** Written into the query's `log_comment`, so the query can be told apart in `system.processes`. */
  readonly label?: string
}

/** One row of a JSONCompactEachRow result: its cells in SELECT order. */
export type JsonRow = ReadonlyArray<unknown>

// ClickHouse prints 64-bit integers unquoted by default in chdb, and JSON.parse would round those above 2^53
// without a word: quoted, they arrive as exact decimal strings and the caller decides how to read them.
const JSON_OUTPUT_ARGS = ["--output_format_json_quote_64bit_integers=1"] as const

const ROWS_PER_INSERT = 50_000

const SETTING_NAME = /^[a-z][a-z0-9_]*$/
const CLICKHOUSE_CODE = /\bCode:\s*(\d+)\./

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

const codeIn = (message: string): number | undefined => {
  const match = CLICKHOUSE_CODE.exec(message)
  return match === null ? undefined : Number(match[1])
}

/**
 * chdb's errors are told apart by their properties: the package exports none of its error classes but one, so there
 * is nothing to test `instanceof` against. `code` is chdb's kind, `clickhouseCode` the engine's code, but not always:
 * an error while fetching a stream's rows comes as a "CHDB_STREAM" error whose ClickHouse code is only in its
 * message ("Code: 159. DB::Exception: ..."), so the messages are read too.
 */
export const chdbErrorFrom = (operation: string) => (cause: unknown): ChdbError => {
  if (cause instanceof ChdbError) return cause
  const props = isRecord(cause) ? cause : {}
  const inner = isRecord(props["cause"]) ? props["cause"] : {}
  const message = typeof props["message"] === "string" ? props["message"] : String(cause)
  const clickhouseCode = typeof props["clickhouseCode"] === "number"
    ? props["clickhouseCode"]
    : codeIn(message) ?? (typeof inner["message"] === "string" ? codeIn(inner["message"]) : undefined)
  const kind = typeof props["code"] === "string" ? props["code"] : undefined
  return new ChdbError({ operation, clickhouseCode, kind, message })
}

/** Settings become engine arguments of the query's own connection, so they apply to that query alone. */
const connectionArgsOf = (settings: ChdbSettings): Effect.Effect<Array<string>, ChdbError> => {
  const invalid = Object.keys(settings).filter((name) => !SETTING_NAME.test(name))
  if (invalid.length > 0) {
    return Effect.fail(
      new ChdbError({
        operation: "stream",
        clickhouseCode: undefined,
        kind: undefined,
        message: `invalid setting name: ${invalid.join(", ")}`
      })
    )
  }
  return Effect.succeed([
    ...JSON_OUTPUT_ARGS,
    ...Object.entries(settings).map(([name, value]) => `--${name}=${String(value)}`)
  ])
}

/**
 * The rows of a block of JSONCompactEachRow, `rowsBefore` rows into the result. A line that is not JSON fails with
 * its position and the block's size only: JSON.parse's own message quotes the line, a tenant's data.
 */
const parseRows = (operation: string, text: string, rowsBefore = 0): Array<JsonRow> => {
  const rows: Array<JsonRow> = []
  let start = 0
  while (start < text.length) {
    const end = text.indexOf("\n", start)
    const line = text.slice(start, end === -1 ? text.length : end)
    if (line.length > 0) {
      try {
        rows.push(JSON.parse(line) as JsonRow)
      } catch {
        throw new ChdbError({
          operation,
          clickhouseCode: undefined,
          kind: undefined,
          message: `a line that is no JSON row at byte ${Buffer.byteLength(text.slice(0, start))} of a block of ` +
            `${Buffer.byteLength(text)} bytes, after ${rowsBefore + rows.length} rows`
        })
      }
    }
    start = end === -1 ? text.length : end + 1
  }
  return rows
}

/** How long a closing engine may take to finish its native work before its thread is ended regardless. */
const CLOSE_GRACE = Duration.seconds(5)

const THREAD_FILE = new URL("./ChdbThread.ts", import.meta.url)

/**
 * The engine's thread, spoken to by request and reply. A thread that ends fails every request waiting on it, and
 * every later one, with the reason.
 */
const connectThread = (dataDir: string) => {
  const worker = new Worker(THREAD_FILE, { workerData: { dataDir, connectionArgs: JSON_OUTPUT_ARGS } })
  const waiting = new Map<number, (outcome: ThreadReply | ChdbError) => void>()
  let ended: ChdbError | undefined
  const endWith = (error: ChdbError) => {
    ended ??= error
    for (const resume of waiting.values()) resume(ended)
    waiting.clear()
  }
  worker.on("message", (reply: ThreadReply) => {
    const resume = waiting.get(reply.id)
    waiting.delete(reply.id)
    resume?.(reply)
  })
  worker.on("error", (cause) => endWith(chdbErrorFrom("thread")(cause)))
  worker.on("exit", (code) =>
    endWith(
      new ChdbError({
        operation: "thread",
        clickhouseCode: undefined,
        kind: undefined,
        message: `the chdb engine's thread has ended (exit code ${code})`
      })
    ))

  /** Waits for the reply to request `id`; a reply that comes after its asker has gone is dropped. */
  const replyTo = <Op extends keyof ThreadValues>(operation: string, id: number) =>
    Effect.async<ThreadValues[Op], ChdbError>((resume) => {
      waiting.set(id, (outcome) =>
        resume(
          outcome instanceof ChdbError
            ? Effect.fail(outcome)
            : outcome.ok
            ? Effect.succeed(outcome.value as ThreadValues[Op])
            : Effect.fail(chdbErrorFrom(operation)(outcome.failure))
        ))
      return Effect.sync(() => void waiting.delete(id))
    })
  // The thread answers id 0 once the engine is open, or with the reason it is not. Asked for before any event of
  // the thread can arrive.
  const opened = Effect.runFork(replyTo<"close">("open", 0))

  /** Sends `request` to the thread and waits for its reply; `transfer` moves those bytes rather than copy them. */
  let nextId = 1
  const call = <R extends ThreadRequest>(
    operation: string,
    request: R,
    transfer: ReadonlyArray<ArrayBuffer> = []
  ): Effect.Effect<ThreadValues[R["op"]], ChdbError> =>
    Effect.suspend(() => {
      if (ended !== undefined) return Effect.fail(ended)
      const id = nextId++
      worker.postMessage({ ...request, id }, [...transfer])
      return replyTo<R["op"]>(operation, id)
    })
  return { worker, opened, call }
}

/**
 * A kill of the query tagged `tag`, best effort: why the engine could not stop it, or why the request itself failed
 * (`failed`), is logged and nothing more. The query's own `max_execution_time` still ends it.
 */
const loggedKill = (kill: Effect.Effect<string | null, ChdbError>, tag: string, failed: string) =>
  kill.pipe(
    Effect.flatMap((killFailed) =>
      killFailed === null
        ? Effect.void
        : Effect.logWarning("chdb query could not be killed", { tag, error: killFailed })
    ),
    Effect.catchAll((error) => Effect.logWarning(failed, { tag, error }))
  )

const startThread = (dataDir: string) =>
  Effect.gen(function*() {
    const { call, opened } = yield* Effect.acquireRelease(
      Effect.sync(() => connectThread(dataDir)),
      ({ worker }) =>
        Effect.promise(async () => {
          if (worker.threadId === -1) return
          const exited = once(worker, "exit").then(() => true)
          const grace = new Promise<boolean>((resolve) =>
            setTimeout(() => resolve(false), Duration.toMillis(CLOSE_GRACE)).unref()
          )
          if (await Promise.race([exited, grace])) return
          // A thread whose native work never finishes cannot be terminated until it does: it is let go instead, so
          // that neither this scope nor the process waits on it.
          worker.unref()
          void worker.terminate()
        })
    )
    yield* Fiber.join(opened)
    // Closing waits for every native operation still running (drainPending): a connection torn down under a
    // running query aborts the engine for the whole process, and the next engine could not open until then.
    yield* Effect.addFinalizer(() =>
      call("close", { op: "close" }).pipe(
        Effect.timeout(CLOSE_GRACE),
        Effect.catchAll((error) => Effect.logWarning("chdb engine did not close cleanly", { dataDir, error }))
      )
    )
    return call
  })

export class ChdbEngine extends Effect.Service<ChdbEngine>()("exports/chdb/ChdbEngine", {
  scoped: (dataDir: string) =>
    Effect.gen(function*() {
      const call = yield* startThread(dataDir)
      yield* Effect.logDebug("chdb engine open", { dataDir })

      /** A statement without a result worth reading: DDL, `INSERT ... SELECT`. */
      const execute = Effect.fn("ChdbEngine.execute")(function*(sql: string, parameters: ChdbParameters = {}) {
        yield* call("execute", { op: "execute", sql, parameters })
      })

      /** A small result, read whole: counts, checks. Streams are for anything that grows with the data. */
      const query = Effect.fn("ChdbEngine.query")(function*(sql: string, parameters: ChdbParameters = {}) {
        const text = yield* call("query", { op: "query", sql, parameters })
        return yield* Effect.try({ try: () => parseRows("query", text), catch: chdbErrorFrom("query") })
      })

      /**
       * Inserts rows given as cells in `columns` order, in batches, so an iterable of any length is read lazily
       * and never held whole. Returns how many rows were written.
       */
      const insert = Effect.fn("ChdbEngine.insert")(
        function*(table: string, columns: ReadonlyArray<string>, rows: Iterable<JsonRow>) {
          let written = 0
          let batch: Array<string> = []
          const encoder = new TextEncoder()
          const flush = Effect.suspend(() => {
            if (batch.length === 0) return Effect.void
            const values = encoder.encode(batch.join("\n") + "\n")
            batch = []
            return call("insert", { op: "insert", table, columns, values }, [values.buffer]).pipe(
              Effect.map((rowsWritten) => void (written += rowsWritten))
            )
          })
          for (const row of rows) {
            batch.push(JSON.stringify(row))
            if (batch.length >= ROWS_PER_INSERT) yield* flush
          }
          yield* flush
          return written
        }
      )

      let nextStream = 1

      /**
       * Streams a query's result in `format`, one engine block at a time, pulled only as fast as the consumer reads:
       * memory stays at one block whatever the size of the result. Each stream runs on a connection of its own (a
       * chdb connection streams one result at a time; opening one costs about a millisecond), closed when the stream
       * ends, fails or is interrupted; a query still running then is killed.
       */
      const blocks = (
        sql: string,
        parameters: ChdbParameters,
        format: string,
        options: StreamOptions
      ): Stream.Stream<Uint8Array, ChdbError> =>
        Stream.unwrapScoped(Effect.gen(function*() {
          const tag = `${options.label ?? "query"} ${randomUUID()}`
          const connectionArgs = yield* connectionArgsOf({ ...options.settings, log_comment: tag })
          const stream = nextStream++
          yield* Effect.acquireRelease(
            call("stream", { op: "streamOpen", stream, sql, parameters, format, connectionArgs, tag }),
            () => loggedKill(call("kill", { op: "streamClose", stream }), tag, "chdb stream could not be closed")
          )
          const pull: Effect.Effect<Uint8Array, Option.Option<ChdbError>> = call("stream", {
            op: "streamNext",
            stream
          }).pipe(
            Effect.mapError(Option.some),
            Effect.flatMap((block) => (block === null ? Effect.fail(Option.none()) : Effect.succeed(block)))
          )
          return Stream.repeatEffectOption(pull)
        }))

      /** Streams a query's rows (see `blocks`). */
      const stream = (sql: string, parameters: ChdbParameters, options: StreamOptions = {}): Stream.Stream<
        JsonRow,
        ChdbError
      > =>
        Stream.suspend(() => {
          let rowsBefore = 0
          const decoder = new TextDecoder()
          return blocks(sql, parameters, "JSONCompactEachRow", options).pipe(
            Stream.mapConcatChunkEffect((block) =>
              Effect.try({
                try: () => {
                  const rows = parseRows("stream", decoder.decode(block), rowsBefore)
                  rowsBefore += rows.length
                  return Chunk.unsafeFromArray(rows)
                },
                catch: chdbErrorFrom("stream")
              })
            )
          )
        })

      /** Streams a query's result as the bytes of `format` (see `blocks`): "CSV", say, for a file. */
      const streamBytes = (
        sql: string,
        parameters: ChdbParameters,
        format: string,
        options: StreamOptions = {}
      ): Stream.Stream<Uint8Array, ChdbError> => blocks(sql, parameters, format, options)

      /**
       * A statement that writes rather than answers (`INSERT INTO FUNCTION file(...) SELECT ...`: a result the
       * engine's streams cannot give whole, ADR 50), with its own settings on a connection of its own, as a stream's.
       * Interrupted, the engine is asked to kill it. While it runs it holds chdb's statement lock: every other
       * statement on the engine's session (`execute`, `query`, `insert`, a stream's KILL) waits for it, streams' reads
       * do not. So the kill lands only when it ends, by itself or at its `max_execution_time`.
       */
      const run = Effect.fn("ChdbEngine.run")(
        function*(sql: string, parameters: ChdbParameters, options: StreamOptions = {}) {
          const tag = `${options.label ?? "query"} ${randomUUID()}`
          const connectionArgs = yield* connectionArgsOf({ ...options.settings, log_comment: tag })
          yield* call("run", { op: "run", sql, parameters, connectionArgs, tag }).pipe(
            Effect.onInterrupt(() =>
              loggedKill(call("kill", { op: "kill", tag }), tag, "chdb query could not be killed")
            )
          )
        }
      )

      /**
       * Whether the engine answers, for readiness: one row on a connection of its own, as a stream, since a
       * statement on the engine's session waits while a `run` holds chdb's statement lock (ADR 50).
       */
      const ping = Stream.runDrain(blocks("SELECT 1", {}, "CSV", { label: "ping" }))

      return { dataDir, execute, query, insert, run, ping, stream, streamBytes } as const
    })
}) {}

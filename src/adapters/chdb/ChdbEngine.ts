// The embedded ClickHouse of this process (chdb): one data directory, opened when the layer is built and closed when
// it is released. libchdb binds one data directory per process, so a process holds one engine at a time.
import { drainPending, Session } from "chdb"
import type { ChdbQueryStream, StreamChunk } from "chdb"
import { Chunk, Data, Effect, Option, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { mkdirSync } from "node:fs"

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

export class ChdbEngine extends Effect.Service<ChdbEngine>()("exports/chdb/ChdbEngine", {
  scoped: (dataDir: string) =>
    Effect.gen(function*() {
      // Closing waits for every native operation still running (drainPending): a connection torn down under a
      // running query aborts the engine for the whole process, and the next engine could not open until then.
      const session = yield* Effect.acquireRelease(
        Effect.try({
          try: () => {
            mkdirSync(dataDir, { recursive: true })
            return new Session(dataDir, { connectionArgs: JSON_OUTPUT_ARGS })
          },
          catch: chdbErrorFrom("open")
        }),
        (session) =>
          Effect.promise(() => {
            session.close()
            return drainPending()
          })
      )
      yield* Effect.logDebug("chdb engine open", { dataDir })

      /** A statement without a result worth reading: DDL, `INSERT ... SELECT`. */
      const execute = Effect.fn("ChdbEngine.execute")(function*(sql: string, parameters: ChdbParameters = {}) {
        yield* Effect.tryPromise({
          try: () => session.queryBindAsync(sql, parameters, { format: "Null" }),
          catch: chdbErrorFrom("execute")
        })
      })

      /** A small result, read whole: counts, checks. Streams are for anything that grows with the data. */
      const query = Effect.fn("ChdbEngine.query")(function*(sql: string, parameters: ChdbParameters = {}) {
        const result = yield* Effect.tryPromise({
          try: () => session.queryBindAsync(sql, parameters, { format: "JSONCompactEachRow" }),
          catch: chdbErrorFrom("query")
        })
        return yield* Effect.try({ try: () => parseRows("query", result.text()), catch: chdbErrorFrom("query") })
      })

      /**
       * Inserts rows given as cells in `columns` order, in batches, so an iterable of any length is read lazily
       * and never held whole. Returns how many rows were written.
       */
      const insert = Effect.fn("ChdbEngine.insert")(
        function*(table: string, columns: ReadonlyArray<string>, rows: Iterable<JsonRow>) {
          let written = 0
          let batch: Array<string> = []
          const flush = Effect.suspend(() => {
            if (batch.length === 0) return Effect.void
            const values = Buffer.from(batch.join("\n") + "\n", "utf8")
            batch = []
            return Effect.tryPromise({
              try: () => session.insert({ table, columns, values, format: "JSONCompactEachRow" }),
              catch: chdbErrorFrom("insert")
            }).pipe(Effect.map((summary) => void (written += summary.rowsWritten)))
          })
          for (const row of rows) {
            batch.push(JSON.stringify(row))
            if (batch.length >= ROWS_PER_INSERT) yield* flush
          }
          yield* flush
          return written
        }
      )

      // Asks the engine to stop the query tagged `tag`. A fetch already running cannot be cancelled from the JS
      // side (chdb defers its cancel until the fetch returns), and a heavy aggregation may not return for minutes.
      // ASYNC: a synchronous KILL waits on the event loop that the killed query's fetch reports to.
      const kill = (tag: string) =>
        Effect.tryPromise({
          try: () =>
            session.queryBindAsync("KILL QUERY WHERE Settings['log_comment'] = {tag:String} ASYNC", { tag }, {
              format: "Null"
            }),
          catch: chdbErrorFrom("kill")
        }).pipe(
          Effect.catchAll((error) => Effect.logWarning("chdb query could not be killed", { tag, error: error.message }))
        )

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
      ): Stream.Stream<StreamChunk, ChdbError> =>
        Stream.unwrapScoped(Effect.gen(function*() {
          const tag = `${options.label ?? "query"} ${randomUUID()}`
          const connectionArgs = yield* connectionArgsOf({ ...options.settings, log_comment: tag })
          const connection = yield* Effect.acquireRelease(
            Effect.try({
              try: () => {
                // A new connection would open the directory again, behind the back of the engine's scope.
                if (!session.open) throw new Error("the chdb engine is closed")
                return new Session(dataDir, { connectionArgs })
              },
              catch: chdbErrorFrom("stream")
            }),
            (connection) => Effect.sync(() => connection.close())
          )
          const results: ChdbQueryStream = yield* Effect.acquireRelease(
            Effect.try({
              try: () => connection.queryStreamBind(sql, parameters, { format }),
              catch: chdbErrorFrom("stream")
            }),
            (results) => Effect.sync(() => results.cancel())
          )
          const chunks = results[Symbol.asyncIterator]()
          // Whether a native fetch is running, as the engine sees it: set until its promise settles, which may be
          // after the fiber that awaited it was interrupted.
          let fetching = false
          yield* Effect.addFinalizer(() => (fetching ? kill(tag) : Effect.void))
          const next = (): Promise<IteratorResult<StreamChunk>> => {
            fetching = true
            const fetched = chunks.next()
            fetched.then(() => (fetching = false), () => (fetching = false))
            return fetched
          }
          const pull: Effect.Effect<StreamChunk, Option.Option<ChdbError>> = Effect.tryPromise({
            try: next,
            catch: (error) => Option.some(chdbErrorFrom("stream")(error))
          }).pipe(
            Effect.flatMap((result) => (result.done ? Effect.fail(Option.none()) : Effect.succeed(result.value)))
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
          return blocks(sql, parameters, "JSONCompactEachRow", options).pipe(
            Stream.mapConcatChunkEffect((block) =>
              Effect.try({
                try: () => {
                  const rows = parseRows("stream", block.text(), rowsBefore)
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
      ): Stream.Stream<Uint8Array, ChdbError> =>
        Stream.map(blocks(sql, parameters, format, options), (block) => block.raw())

      return { dataDir, execute, query, insert, stream, streamBytes } as const
    })
}) {}

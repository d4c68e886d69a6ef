// One query's rows from ClickHouse over HTTP, streamed: the raw body of `exec` read as JSONCompact, a line a row,
// pulled only as fast as the consumer reads. The query is tagged with its id: its progress is read by that id while
// it runs, and a consumer that goes away before the end aborts the request and kills the query on the server.
import type { ClickHouseClient, ClickHouseSettings } from "@clickhouse/client"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Chunk, Duration, Effect, Stream } from "effect"
import type { Tracer } from "effect"
import type { CsvPiece, FilePiece, SourceProgress } from "../../application/ports/ReportSource.js"
import { csvResultOf } from "./CsvResultReader.js"
import type { JsonRow } from "./JsonCompactReader.js"
import { ClickHouseQueryError, JsonCompactReader, serverErrorOf } from "./JsonCompactReader.js"
import {
  EXPORT_CSV_FUNCTION_NAMES,
  EXPORT_CSV_SETTING_NAMES,
  EXPORT_CSV_SETTINGS,
  sqlString
} from "./NeutralisedCsv.js"
import { PARQUET_SETTINGS, parquetResultOf } from "./ParquetResultReader.js"

export interface QueryOptions {
  /** The query's id on the server: how it is found in `system.processes` and killed. */
  readonly queryId: string
  /** Values for `{name:Type}` placeholders, bound by the server (never formatted into the SQL). */
  readonly params?: Readonly<Record<string, unknown>> | undefined
  /** ClickHouse settings of this query alone, such as `max_execution_time`. */
  readonly settings?: ClickHouseSettings | undefined
  /** How many columns the SQL selects: a result of another width fails before its first row. */
  readonly columns?: number | undefined
  /** Told the server's count of the rows the query has read and will read, while it runs (`ProgressReports`). */
  readonly progress?: ProgressReports | undefined
}

/**
 * How a query's progress is told while it runs: its last `X-ClickHouse-Progress` header before the body began, if
 * the server sent one, then what `system.processes` says of it every `every` until the stream ends. The headers stop
 * once the body begins (none can follow it), which for an export is before most of its rows.
 */
export interface ProgressReports {
  readonly every: Duration.Duration
  /** Called off the rows' path, on a fiber of its own: it must be cheap. */
  readonly report: (progress: SourceProgress) => void
}

/** The server's counts, as JSON numbers or strings: read rows of a known total, or nothing. */
const sourceProgressOf = (read: unknown, total: unknown): SourceProgress | undefined => {
  const readRows = Number(read)
  const totalRows = Number(total)
  return Number.isSafeInteger(readRows) && Number.isSafeInteger(totalRows) && totalRows > 0 && readRows >= 0
    ? { readRows, totalRows }
    : undefined
}

/**
 * The last `X-ClickHouse-Progress` header of a response: the server sends one every progress interval until the
 * body begins (Node joins repeated headers with ", "), with its counts as JSON strings. Nothing when it sent none,
 * or none with a total.
 */
export const progressOfHeaders = (headers: Readonly<Record<string, unknown>>): SourceProgress | undefined => {
  const header = headers["x-clickhouse-progress"]
  const text = Array.isArray(header) ? header.join(", ") : typeof header === "string" ? header : ""
  const last = text.slice(text.lastIndexOf("{"))
  if (last === "") return undefined
  try {
    const fields = JSON.parse(last) as Readonly<Record<string, unknown>>
    return sourceProgressOf(fields["read_rows"], fields["total_rows_to_read"])
  } catch {
    return undefined
  }
}

/** Query ids are written into the KILL statement, so they are held to the characters of a UUID or a slug. */
const QUERY_ID = /^[A-Za-z0-9_-]{1,128}$/

/**
 * How much of the body is read at a time: pieces of this size keep the stream machinery's cost per row small
 * (measured in docs/performance/log/2026-11-28-1936-export-first-figures.md), and memory holds one piece and its rows.
 * The last piece of a body is whatever remains.
 */
export const READ_SIZE = 256 * 1024

/** A KILL is best effort: past this, the query's own `max_execution_time` is what stops it. */
const KILL_TIMEOUT = Duration.seconds(5)

/** A failure of the client itself: an error the server sent as such, or the network's. */
export const clientErrorOf = (cause: unknown): ClickHouseQueryError => {
  if (cause instanceof ClickHouseQueryError) return cause
  const props = typeof cause === "object" && cause !== null ? cause as Record<string, unknown> : {}
  const message = typeof props["message"] === "string" ? props["message"] : String(cause)
  // @clickhouse/client parses the errors of current servers into `code` and `type`; older servers' errors
  // ("Code: 159, e.displayText() = DB::Exception: ...") arrive as plain Errors with the code in the message only.
  const code = typeof props["code"] === "string" && /^\d+$/.test(props["code"]) ? Number(props["code"]) : undefined
  if (code !== undefined) {
    return new ClickHouseQueryError({
      code,
      type: typeof props["type"] === "string" ? props["type"] : undefined,
      kind: "server",
      message: `Code: ${code}. ${message}`
    })
  }
  const parsed = serverErrorOf(message, "network")
  return parsed.code === undefined && typeof props["code"] === "string"
    ? new ClickHouseQueryError({ ...parsed, message: `${props["code"]}: ${parsed.message}` })
    : parsed
}

const killQuery = (client: ClickHouseClient, queryId: string) =>
  Effect.tryPromise({
    // No query parameter: servers before 23.x do not bind them, and the id was checked against QUERY_ID.
    try: (signal) => client.command({ query: `KILL QUERY WHERE query_id = '${queryId}' ASYNC`, abort_signal: signal }),
    catch: clientErrorOf
  }).pipe(
    Effect.timeout(KILL_TIMEOUT),
    Effect.tap(() => Effect.logDebug("ClickHouse query killed", { queryId })),
    Effect.catchAll((error) =>
      Effect.logWarning("ClickHouse query could not be killed", { queryId, error: error.message })
    )
  )

/**
 * The query's line in `system.processes` while the server runs it: the rows read so far, and `total_rows_approx`,
 * the rows it expects to read in all (both there since 18.x). MergeTree reads count their total ahead, in whole
 * granules; a table function such as numbers() tells 18.16 none, and then there is nothing to report. Nothing either
 * before the query starts or after it ends, or on another replica than the query's (a cluster behind one address
 * may route this read elsewhere, as it may a KILL).
 */
const readProgress = (client: ClickHouseClient, queryId: string) =>
  Effect.tryPromise({
    // No query parameter: servers before 23.x do not bind them, and the id was checked against QUERY_ID.
    try: async (signal) => {
      const result = await client.query({
        query: `SELECT read_rows, total_rows_approx FROM system.processes WHERE query_id = '${queryId}'`,
        format: "JSONEachRow",
        abort_signal: signal
      })
      return result.json<Readonly<Record<string, unknown>>>()
    },
    catch: clientErrorOf
  }).pipe(
    Effect.map(([line]) =>
      line === undefined ? undefined : sourceProgressOf(line["read_rows"], line["total_rows_approx"])
    )
  )

/**
 * Reads the query's progress every `progress.every` and tells it, until interrupted with the stream's scope: beside
 * the rows, never on their path, over the same client (one more socket, for a few milliseconds a read). A read that
 * fails, or takes longer than the interval, is logged at debug and the next one tried: progress is an estimate for
 * a reader, never a reason to fail or slow an export.
 */
const reportProgress = (client: ClickHouseClient, queryId: string, progress: ProgressReports) =>
  Effect.sleep(progress.every).pipe(
    Effect.zipRight(
      readProgress(client, queryId).pipe(
        Effect.timeoutFail({
          duration: progress.every,
          onTimeout: () =>
            new ClickHouseQueryError({
              code: undefined,
              type: undefined,
              kind: "network",
              message: `no answer within ${Duration.format(progress.every)}`
            })
        })
      )
    ),
    Effect.tap((read) => read === undefined ? Effect.void : Effect.sync(() => progress.report(read))),
    Effect.catchAll((error) =>
      Effect.logDebug("ClickHouse query's progress could not be read", { queryId, error: error.message })
    ),
    Effect.forever
  )

/**
 * `stream` inside a span of its own, opened when the stream starts and ended with it, that the stream's own work does
 * not run under. `Stream.withSpan` makes its span the parent of everything the stream runs by providing it to the
 * stream's channel, and the channel then wraps every effect it runs, each wake-up of a body's read included, in a
 * provide of its context (two FiberRef writes, each comparing contexts): ~7 a pull of the body, ~0.4 µs a row of an
 * export's CPU (docs/performance.md). Logs and spans from inside the stream hang under the caller's span instead.
 */
export const withOwnSpan =
  (name: string, options: Tracer.SpanOptions) => <A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
    Stream.unwrapScoped(Effect.as(Effect.makeSpanScoped(name, options), stream))

/**
 * The CSV pieces as they come, their rows told to `count` as they pass: in a synchronous step over each pull, since an
 * effect per piece costs a turn of the fiber's runtime. A source's count of the rows read, for its failures.
 */
export const countingRows =
  (count: (rows: number) => void) => <E, R>(pieces: Stream.Stream<CsvPiece, E, R>): Stream.Stream<CsvPiece, E, R> =>
    Stream.mapChunks(pieces, (chunk) => {
      for (const piece of chunk) count(piece.rows)
      return chunk
    })

/** The format a body is asked in and the settings it needs. */
interface BodyRequest {
  readonly format: string
  readonly settings: ClickHouseSettings
}

/** A body read by a reader of one body, made per query. */
interface BodyFormat<A> extends BodyRequest {
  readonly reader: () => {
    /** The items completed by a piece of the body. */
    readonly push: (chunk: Uint8Array) => ReadonlyArray<A>
    /** The body is over: throws unless it held a whole result. */
    readonly end: () => void
  }
}

/**
 * Runs `sql` (without a FORMAT clause) in `body`'s format and streams what its reader makes of the response, or,
 * without a reader, the body's bytes as they come (no step of their own: a reader outside this scope judges them).
 * The stream fails with a ClickHouseQueryError when the server refuses the query, when it reports an error in the
 * middle of the body, or when the body ends before the result does; it ends only after a whole result. Memory
 * holds one piece of the body (READ_SIZE) and what the reader made of it, whatever the size of the result.
 */
function streamBody(
  client: ClickHouseClient,
  sql: string,
  options: QueryOptions,
  body: BodyRequest
): Stream.Stream<Uint8Array, ClickHouseQueryError>
function streamBody<A>(
  client: ClickHouseClient,
  sql: string,
  options: QueryOptions,
  body: BodyFormat<A>
): Stream.Stream<A, ClickHouseQueryError>
function streamBody<A>(
  client: ClickHouseClient,
  sql: string,
  options: QueryOptions,
  body: BodyRequest | BodyFormat<A>
): Stream.Stream<A | Uint8Array, ClickHouseQueryError> {
  return Stream.unwrapScoped(
    Effect.gen(function*() {
      const { queryId } = options
      if (!QUERY_ID.test(queryId)) {
        return yield* new ClickHouseQueryError({
          code: undefined,
          type: undefined,
          kind: "client",
          message: `invalid query id: ${JSON.stringify(queryId.slice(0, 200))}`
        })
      }
      const reader = "reader" in body ? body.reader() : undefined
      // Whether the server is done with the query: it sent a whole result, or its error. Until then a consumer that
      // leaves (interrupted, failed elsewhere, or satisfied early) leaves a query running: abort and kill it.
      let settled = false
      const controller = yield* Effect.acquireRelease(
        Effect.sync(() => new AbortController()),
        (controller) =>
          settled ? Effect.void : Effect.zipRight(Effect.sync(() => controller.abort()), killQuery(client, queryId))
      )
      const settle = <B>(effect: Effect.Effect<B, ClickHouseQueryError>) =>
        Effect.tapError(effect, (error) => Effect.sync(() => void (settled ||= error.kind === "server")))
      // From before the request, so that a query that computes for minutes before its first row reports too; stopped
      // with the scope, before the request is aborted.
      if (options.progress !== undefined) yield* Effect.forkScoped(reportProgress(client, queryId, options.progress))

      const result = yield* settle(Effect.tryPromise({
        try: () =>
          client.exec({
            query: `${sql}\nFORMAT ${body.format}`,
            query_id: queryId,
            clickhouse_settings: { ...options.settings, ...body.settings },
            ...(options.params !== undefined && Object.keys(options.params).length > 0
              ? { query_params: options.params }
              : {}),
            abort_signal: controller.signal
          }),
        catch: clientErrorOf
      }))

      if (options.progress !== undefined) {
        const progress = progressOfHeaders(result.response_headers)
        if (progress !== undefined) options.progress.report(progress)
      }

      const end = settle(Effect.try({ try: () => reader?.end(), catch: clientErrorOf })).pipe(
        Effect.zipRight(Effect.sync(() => void (settled = true)))
      )
      const bytes = NodeStream.fromReadable<ClickHouseQueryError, Uint8Array>(() => result.stream, clientErrorOf, {
        chunkSize: READ_SIZE
      })
      if (reader === undefined) {
        const raw: Stream.Stream<A | Uint8Array, ClickHouseQueryError> = Stream.concat(
          bytes,
          Stream.drain(Stream.fromEffect(end))
        )
        return raw
      }
      return bytes.pipe(
        Stream.mapChunksEffect((chunks) =>
          settle(Effect.try({
            try: () => {
              if (chunks.length === 1) {
                return Chunk.unsafeFromArray(reader.push(Chunk.unsafeGet(chunks, 0)))
              }
              const items: Array<A> = []
              for (const chunk of chunks) for (const item of reader.push(chunk)) items.push(item)
              return Chunk.unsafeFromArray(items)
            },
            catch: clientErrorOf
          }))
        ),
        Stream.concat(Stream.drain(Stream.fromEffect(end)))
      )
    })
  )
}

/**
 * Runs `sql` (without a FORMAT clause: JSONCompact is added) and streams its rows, as `streamBody` says. 64-bit
 * integers come quoted, or JSON.parse would round those past 2^53 without a word (18.x quotes them by default,
 * newer servers do not).
 */
export const streamQuery = (
  client: ClickHouseClient,
  sql: string,
  options: QueryOptions
): Stream.Stream<JsonRow, ClickHouseQueryError> =>
  streamBody(client, sql, options, {
    format: "JSONCompact",
    settings: { output_format_json_quote_64bit_integers: 1 },
    reader: () => new JsonCompactReader(options.columns)
  })

/**
 * Runs `sql` (without a FORMAT clause: Parquet is added) and streams the file the server writes, as `streamBody`
 * says, read by a ParquetResultReader: the bytes as they come, the last piece with the footer's row count (ADR 50).
 */
export const streamParquet = (
  client: ClickHouseClient,
  sql: string,
  options: QueryOptions
): Stream.Stream<FilePiece, ClickHouseQueryError> =>
  parquetResultOf(
    // The body's bytes as they come, for the reader outside streamBody's scope to judge once it has ended.
    streamBody(client, sql, options, { format: "Parquet", settings: PARQUET_SETTINGS })
  )

/**
 * Whether the server writes the export's CSV itself (ADR 53): it knows every setting of EXPORT_CSV_SETTINGS and
 * every function of the neutralising SQL that older servers lack (18.16 knows none of them). Asked of
 * `system.settings` and `system.functions`, both there since 18.x.
 */
export const writesExportCsv = (client: ClickHouseClient) =>
  Effect.tryPromise({
    try: async (signal) => {
      const result = await client.query({
        query:
          `SELECT name FROM system.settings WHERE name IN (${EXPORT_CSV_SETTING_NAMES.map(sqlString).join(", ")}) ` +
          `UNION ALL SELECT name FROM system.functions WHERE name IN (${
            EXPORT_CSV_FUNCTION_NAMES.map(sqlString).join(", ")
          })`,
        format: "JSONEachRow",
        abort_signal: signal
      })
      return result.json<Readonly<Record<string, unknown>>>()
    },
    catch: clientErrorOf
  }).pipe(
    Effect.map((rows) =>
      [...EXPORT_CSV_SETTING_NAMES, ...EXPORT_CSV_FUNCTION_NAMES].every((name) =>
        rows.some((row) => row["name"] === name)
      )
    )
  )

/**
 * Runs `sql` (without a FORMAT clause: CSV is added) and streams its rows as the export's CSV, as `streamBody`
 * says, with the extremes that tell a whole result (ADR 17). `asWritten`: `sql` neutralises its text
 * (`neutralisedCsvSql`) and the server writes ADR 6's row ends and NULLs, so the reader checks and counts the rows
 * and hands the bytes on (ADR 53); otherwise it rewrites ClickHouse's CSV to ADR 6.
 */
export const streamCsv = (
  client: ClickHouseClient,
  sql: string,
  options: QueryOptions & { readonly columns: number; readonly asWritten?: boolean | undefined }
): Stream.Stream<CsvPiece, ClickHouseQueryError> =>
  // The body's bytes as they come, read by csvResultOf as chdb's are. The reader fails only once the body has
  // ended, when the server is done with the query, so it can sit outside streamBody's kill-on-leave scope.
  csvResultOf(
    streamBody(client, sql, options, {
      format: "CSV",
      settings: options.asWritten === true ? { extremes: 1, ...EXPORT_CSV_SETTINGS } : { extremes: 1 }
    }),
    options.columns,
    options.asWritten === true
  )

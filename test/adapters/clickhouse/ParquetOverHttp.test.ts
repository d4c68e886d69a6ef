// Parquet through the ClickHouse adapter over real HTTP (ADR 50): from a ClickHouse of today (the chdb HTTP front,
// ClickHouse 26.x) it is a whole file of typed columns, read back with a standard reader; from ClickHouse 18.16, which
// has no Parquet, the export fails for good with words that say so, not as a failure worth retrying.
import { expect, layer } from "@effect/vitest"
import { Chunk, Duration, Effect, Layer, Schema, Stream } from "effect"
import * as ClickHouseReportSource from "../../../src/adapters/clickhouse/ClickHouseReportSource.js"
import { PARQUET_SETTINGS } from "../../../src/adapters/clickhouse/ParquetResultReader.js"
import { ReportSource } from "../../../src/application/ports/ReportSource.js"
import { MerchantId } from "../../../src/domain/Identifiers.js"
import { Orders, ReportRequest } from "../../../src/domain/Reports.js"
import { comparableObjects, comparableRows, readParquet } from "../../support/ParquetFiles.js"
import { ChdbHttpServer } from "../../support/servers/ChdbHttpServer.js"
import { queryOf } from "../chdb/ChdbTestSupport.js"
import { clientOn1816, ordersShaped, settingsAt } from "./ClickHouseTestSupport.js"

const acme = MerchantId.make("m-acme")
const january = Schema.decodeUnknownSync(ReportRequest)({
  _tag: "orders",
  params: { dateFrom: "2025-01-01", dateTo: "2025-01-31" }
})

/** The adapter on the chdb HTTP front, as on any server: only the address differs from 18.16's. */
const onChdbFront = Layer.unwrapEffect(
  Effect.map(ChdbHttpServer, (server) => ClickHouseReportSource.layer(settingsAt(server.url)))
).pipe(Layer.provideMerge(ChdbHttpServer.layer(20_000)))

layer(onChdbFront, { timeout: 60_000 })("Parquet from ClickHouse 26.x over HTTP", (it) => {
  it.effect("is one whole file whose typed columns hold the rows the same query gives as rows", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      const pieces = Chunk.toReadonlyArray(yield* Stream.runCollect(source.parquet(queryOf(acme, january))))
      const rows = Chunk.toReadonlyArray(yield* Stream.runCollect(source.rows(queryOf(acme, january))))
      expect(rows.length).toBeGreaterThan(100)
      expect(pieces.at(-1)?.rows).toBe(rows.length)
      const file = yield* readParquet(Buffer.concat(pieces.map((piece) => piece.bytes)))
      expect(comparableObjects(Orders.columns, file.rows)).toStrictEqual(comparableRows(Orders.columns, rows))
      const asked = (yield* Effect.flatMap(ChdbHttpServer, (server) => server.received)).filter((query) =>
        query.sql.endsWith("FORMAT Parquet")
      )
      expect(asked).toHaveLength(1)
      expect(asked[0]!.settings).toMatchObject({
        output_format_parquet_compression_method: PARQUET_SETTINGS.output_format_parquet_compression_method,
        output_format_parquet_string_as_string: String(PARQUET_SETTINGS.output_format_parquet_string_as_string)
      })
    }))
})

/** The orders report's shape on 18.16's own numbers, since 18.16 binds no query parameters. */
const on1816 = Layer.effect(
  ReportSource,
  ClickHouseReportSource.make({
    catalogue: () => ({ ...Orders, sql: ordersShaped("system.numbers LIMIT 1000") }),
    parametersOf: () => ({})
  })
).pipe(Layer.provideMerge(clientOn1816))

layer(on1816, { timeout: 60_000, excludeTestServices: true })("Parquet from ClickHouse 18.16 over HTTP", (it) => {
  it.effect("fails for good as a format the server cannot write, neither retried nor a query error", () =>
    Effect.gen(function*() {
      const source = yield* ReportSource
      const error = yield* Effect.flip(
        Stream.runDrain(source.parquet(queryOf(acme, january, Duration.seconds(30))))
      )
      expect(error).toMatchObject({ _tag: "QueryFailed", retryable: false, unavailableFormat: "parquet" })
      // The same report as CSV is served, so the refusal is the format's alone.
      const csv = Chunk.toReadonlyArray(yield* Stream.runCollect(source.csv(queryOf(acme, january))))
      expect(csv.reduce((rows, piece) => rows + piece.rows, 0)).toBe(1000)
    }))
})

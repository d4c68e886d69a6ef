// What the ClickHouse adapter's tests share: its client on the embedded engine (chdb's Connection for
// @clickhouse/client, ClickHouse 26.x in this process, query parameters and real error codes, whole results
// buffered) over the same demo order lines as the chdb adapter's tests, and its client on a clickhouse-server 18.16.
import { createClient } from "@clickhouse/client"
import type { ClickHouseClientConfigOptions } from "@clickhouse/client"
import { createChdbConnection } from "chdb/connection"
import { Duration, Effect, Layer, Redacted } from "effect"
import { ChdbEngine } from "../../../src/adapters/chdb/ChdbEngine.js"
import type { ChdbError } from "../../../src/adapters/chdb/ChdbEngine.js"
import * as ClickHouseClient from "../../../src/adapters/clickhouse/ClickHouseClient.js"
import type { ClickHouseSettings } from "../../../src/adapters/clickhouse/ClickHouseClient.js"
import * as ClickHouseReportSource from "../../../src/adapters/clickhouse/ClickHouseReportSource.js"
import type { ClickHouseReportSourceOptions } from "../../../src/adapters/clickhouse/ClickHouseReportSource.js"
import type { OrderLineDataset } from "../../../src/adapters/memory/MemoryReportSource.js"
import { ReportSource } from "../../../src/application/ports/ReportSource.js"
import type { MerchantId } from "../../../src/domain/Identifiers.js"
import { ClickHouseServer } from "../../support/servers/ClickHouseServer.js"
import type { ClickHouseServerInfo } from "../../support/servers/ClickHouseServer.js"
import { loadedEngine } from "../chdb/ChdbTestSupport.js"

/**
 * The adapter's client on chdb's Connection, bound to the engine's data directory (libchdb binds one per process,
 * and sessions on the same directory share it). Closed before the engine is.
 */
export const chdbClient: Layer.Layer<ClickHouseClient.ClickHouseClient, never, ChdbEngine> = Layer.unwrapEffect(
  Effect.map(ChdbEngine, (engine) =>
    ClickHouseClient.layerFromClient(() =>
      createClient({
        // chdb declares the Connection of @clickhouse/client-common 1.23.0, the client bundles its own copy of it:
        // the same contract, two declarations.
        connection: createChdbConnection({ path: engine.dataDir }) as unknown as Connection
      })
    ))
)

type Connection = NonNullable<ClickHouseClientConfigOptions["connection"]>

/** The ClickHouse ReportSource on a fresh engine holding `dataset`'s lines of `merchants`, and its client. */
export const clickHouseSourceOnChdb = (
  dataset: OrderLineDataset,
  merchants: ReadonlyArray<MerchantId>,
  options: ClickHouseReportSourceOptions = {}
): Layer.Layer<ReportSource | ClickHouseClient.ClickHouseClient | ChdbEngine, ChdbError> =>
  Layer.effect(ReportSource, ClickHouseReportSource.make(options)).pipe(
    Layer.provideMerge(chdbClient),
    Layer.provideMerge(loadedEngine(dataset, merchants))
  )

/** The tests' settings for the ClickHouse at `url`: user `default`, no password. */
export const settingsAt = (url: URL): ClickHouseSettings => ({
  url,
  username: "default",
  password: Redacted.make(""),
  database: "default",
  requestTimeout: Duration.seconds(30),
  maxConnections: 8
})

export const settingsOf = (server: ClickHouseServerInfo): ClickHouseSettings => settingsAt(server.url)

/** A clickhouse-server 18.16 of its own and the adapter's client on it. */
export const clientOn1816: Layer.Layer<ClickHouseClient.ClickHouseClient | ClickHouseServer> = Layer.unwrapEffect(
  Effect.map(ClickHouseServer, (server) => ClickHouseClient.layer(settingsOf(server)))
).pipe(Layer.provideMerge(ClickHouseServer.layer))

/** How many queries with this id the server is running. */
export const runningQueries = (queryId: string) =>
  Effect.flatMap(
    ClickHouseServer,
    (server) => server.query(`SELECT count() FROM system.processes WHERE query_id = '${queryId}'`)
  ).pipe(
    Effect.map((body) => Number(body.trim()))
  )

/** A table name no other test uses. */
export const freshTableName = (): string => `numbers_${crypto.randomUUID().replaceAll("-", "")}`

/**
 * A MergeTree table on the server holding the numbers 0 to `rows` - 1 as `number`. Unlike numbers(), whose reads
 * tell 18.16 no total, a MergeTree read counts its rows ahead: `total_rows_approx`, in whole granules of 8192 rows.
 */
export const numbersTable = (rows: number, table: string = freshTableName()) =>
  Effect.gen(function*() {
    const server = yield* ClickHouseServer
    yield* server.query(`CREATE TABLE ${table} (number UInt64) ENGINE = MergeTree ORDER BY number`)
    yield* server.query(`INSERT INTO ${table} SELECT number FROM numbers(${rows})`)
    return table
  })

/**
 * The table's numbers as a subquery the server reads at about `rowsPerSecond` (on one thread, when the outer query
 * says `max_threads = 1`): seconds of rows streaming, whatever the machine.
 */
export const readSlowly = (table: string, rowsPerSecond: number) =>
  `(SELECT number FROM ${table} WHERE sleepEachRow(${1 / rowsPerSecond}) = 0)`

/** Rows of the orders report's shape, without parameters (18.16 binds none), from an endless table of numbers. */
export const ordersShaped = (from: string, settings = "") => `
SELECT
  concat('m-acme-', toString(number)) AS order_id, toUInt32(number % 3 + 1) AS line_number,
  toString(toDateTime(1704067200 + number)) AS ordered_at_local, 'delivered' AS status,
  concat('C', toString(number % 5000)) AS customer_id, concat('P', toString(number % 40)) AS product_id,
  concat('SKU-', toString(number % 40)) AS sku, 'Desk lamp, "large"' AS product_name,
  toUInt32(number % 4 + 1) AS quantity, '12.50' AS unit_price, '25.00' AS line_total, 'EUR' AS currency
FROM ${from}
${settings}`

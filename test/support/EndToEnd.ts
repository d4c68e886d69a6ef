// What the end-to-end tests of the runtimes share: a free loopback port, a temporary data directory, and the check
// that a downloaded orders CSV holds exactly the rows the catalogue's SQL gives when queried directly.
import { expect } from "@effect/vitest"
import { parse } from "csv-parse/sync"
import { Effect, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ChdbEngine } from "../../src/adapters/chdb/ChdbEngine.js"
import { encodeRow } from "../../src/domain/Csv.js"
import { MerchantId } from "../../src/domain/Identifiers.js"
import { Orders, queryParametersOf, ReportRequest } from "../../src/domain/Reports.js"
import type { Cell } from "../../src/domain/Reports.js"

export { freePort } from "./FreePort.js"

export const temporaryDataDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), prefix))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/**
 * The downloaded `csv` is the orders report of `merchantId` for the request `body`: the catalogue's header, then
 * exactly the rows the SQL returns when run directly on the engine, encoded. Returns the data rows.
 */
export const expectOrdersCsvAsQueried = (csv: string, body: Record<string, unknown>, merchantId: string) =>
  Effect.gen(function*() {
    const [header, ...rows]: Array<Array<string>> = parse(csv)
    expect(header).toStrictEqual(Orders.columns.map((c) => c.header))
    const report = Schema.decodeUnknownSync(ReportRequest)({ _tag: "orders", params: body })
    const engine = yield* ChdbEngine
    const direct = yield* engine.query(Orders.sql, queryParametersOf(MerchantId.make(merchantId), report))
    expect(rows).toStrictEqual(
      direct.map((row) => {
        const [cells]: Array<Array<string>> = parse(encodeRow(row as ReadonlyArray<Cell>))
        return cells
      })
    )
    return rows
  })

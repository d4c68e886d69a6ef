// What the chdb tests share: an engine on a fresh temporary data directory, closed and then removed when its layer
// is released, and a ReportSource over it loaded with the demo order lines of the memory adapter's tests.
//
// libchdb binds one data directory per process and vitest runs each test file in a process of its own, so tests
// in one file must not overlap: each builds its engine, uses it and releases it (sessions closed, native work
// drained) before the next one opens another directory. No test here runs concurrently.
import { Duration, Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ChdbEngine } from "../../../src/adapters/chdb/ChdbEngine.js"
import type { ChdbError } from "../../../src/adapters/chdb/ChdbEngine.js"
import * as ChdbReportSource from "../../../src/adapters/chdb/ChdbReportSource.js"
import { ensureOrderLinesTable, insertOrderLines } from "../../../src/adapters/chdb/DemoSeed.js"
import type { OrderLineDataset } from "../../../src/adapters/memory/MemoryReportSource.js"
import type { ReportQuery } from "../../../src/application/ports/ReportSource.js"
import type { ReportSource } from "../../../src/application/ports/ReportSource.js"
import { makeExportJobId, MerchantId } from "../../../src/domain/Identifiers.js"
import type { ReportRequest } from "../../../src/domain/Reports.js"

export const acme = MerchantId.make("m-acme")
export const globex = MerchantId.make("m-globex")

/** A fresh data directory under the OS temp directory, removed with everything in it on release. */
export const tempDataDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "async-data-export-chdb-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** An engine on a fresh temporary directory; the engine is closed before the directory is removed. */
export const freshEngine = (): Layer.Layer<ChdbEngine, ChdbError> =>
  Layer.unwrapScoped(Effect.map(tempDataDir, (dir) => ChdbEngine.Default(dir)))

/** A fresh engine whose order_lines holds `dataset`'s lines of `merchants` (and nothing when there are none). */
export const loadedEngine = (
  dataset: OrderLineDataset,
  merchants: ReadonlyArray<MerchantId>
): Layer.Layer<ChdbEngine, ChdbError> =>
  Layer.effectDiscard(
    Effect.zipRight(ensureOrderLinesTable, Effect.forEach(merchants, (merchant) => insertOrderLines(dataset(merchant))))
  ).pipe(Layer.provideMerge(freshEngine()))

/** The chdb ReportSource over `dataset`, beside the engine it reads, for checks on the engine itself. */
export const chdbSource = (
  dataset: OrderLineDataset,
  merchants: ReadonlyArray<MerchantId>
): Layer.Layer<ReportSource | ChdbEngine, ChdbError> =>
  ChdbReportSource.layer.pipe(Layer.provideMerge(loadedEngine(dataset, merchants)))

export const queryOf = (
  merchantId: MerchantId,
  report: ReportRequest,
  timeout: Duration.Duration = Duration.seconds(60)
): ReportQuery => ({ jobId: makeExportJobId(Date.now(), randomBytes(10)), merchantId, report, timeout })

/** How many queries whose log_comment starts with `label` the engine is running. */
export const runningQueries = (label: string) =>
  Effect.flatMap(ChdbEngine, (engine) =>
    engine.query(
      "SELECT count() FROM system.processes WHERE startsWith(Settings['log_comment'], {label:String})",
      { label }
    )).pipe(Effect.map((rows) => Number(rows[0]?.[0])))

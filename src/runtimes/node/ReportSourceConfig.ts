// The report source of the Node runtimes on real services (`npm run worker` for exports, `npm run serve` for
// previews, ADR 35), as REPORT_SOURCE names it: ClickHouse over HTTP, or the embedded chdb for a demo on one machine.
import { Config, Effect, Layer } from "effect"
import * as ChdbReportSource from "../../adapters/chdb/ChdbReportSource.js"
import { clickHouseSettingsConfig } from "../../adapters/clickhouse/ClickHouseClient.js"
import * as ClickHouseReportSource from "../../adapters/clickhouse/ClickHouseReportSource.js"

/**
 * REPORT_SOURCE: `clickhouse` (a ClickHouse server over HTTP, CLICKHOUSE_* settings) or `chdb` (the embedded
 * ClickHouse over CHDB_DATA_DIR, for a demo or a single machine; one process per directory).
 */
export const reportSourceConfig = Config.literal("chdb", "clickhouse")("REPORT_SOURCE")

/** The ReportSource REPORT_SOURCE names (with the chdb engine it runs on, for a test's or a probe's own queries). */
export const layerConfig = Layer.unwrapEffect(
  Effect.map(reportSourceConfig, (source) =>
    source === "clickhouse"
      ? ClickHouseReportSource.layerConfig
      : ChdbReportSource.layerConfig)
)

/**
 * The settings of the source REPORT_SOURCE names; REPORT_SOURCE itself when it names none, so that its error is
 * reported with the others.
 */
export const settingsConfig = reportSourceConfig.pipe(
  Effect.map((source): Config.Config<unknown> =>
    source === "clickhouse" ? clickHouseSettingsConfig : ChdbReportSource.chdbSettingsConfig
  ),
  Effect.orElseSucceed(() => reportSourceConfig)
)

// A function's production ports with the report source ClickHouse over HTTP, as one scoped layer: the functions'
// own settings and ClickHouse's read in one `Config.all`, so that every missing or malformed setting is named at once
// (ADR 59). The API and the worker differ only in the ports `portsOn` makes.
import { Config, Context, Effect, Layer } from "effect"
import type { ConfigError, Scope } from "effect"
import * as ClickHouseClient from "../../adapters/clickhouse/ClickHouseClient.js"
import * as ClickHouseReportSource from "../../adapters/clickhouse/ClickHouseReportSource.js"
import { ReportSource } from "../../application/ports/ReportSource.js"

export const withClickHouseReportSource = <Settings, Ports, E>(
  settingsConfig: Config.Config<Settings>,
  portsOn: (settings: Settings) => Effect.Effect<Context.Context<Ports>, E, Scope.Scope>
): Layer.Layer<Ports | ReportSource, E | ConfigError.ConfigError> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const settings = yield* Config.all({
        ports: settingsConfig,
        clickHouse: ClickHouseClient.clickHouseSettingsConfig
      })
      const ports = yield* portsOn(settings.ports)
      const reportSource = yield* Layer.build(ClickHouseReportSource.layer(settings.clickHouse))
      return Context.add(ports, ReportSource, Context.get(reportSource, ReportSource))
    })
  )

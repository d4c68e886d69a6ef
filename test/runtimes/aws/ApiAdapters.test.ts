// The API's production adapters built as one scoped effect over one settings record (ADR 59): every port the API
// needs, from the environment's settings alone (building opens no connection), and a missing or malformed setting
// named in the failure, each of them when several are.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import { inspect } from "node:util"
import { ReadinessChecks } from "../../../src/adapters/http/HealthHttp.js"
import { ExportSettings } from "../../../src/application/ExportSettings.js"
import { JobIds } from "../../../src/application/JobIds.js"
import { AuditTrail } from "../../../src/application/ports/AuditTrail.js"
import { ExportLinks } from "../../../src/application/ports/ExportLinks.js"
import { FileStore } from "../../../src/application/ports/FileStore.js"
import { InAppNotifier } from "../../../src/application/ports/InAppNotifier.js"
import { JobQueue } from "../../../src/application/ports/JobQueue.js"
import { JobStore } from "../../../src/application/ports/JobStore.js"
import { ReportSource } from "../../../src/application/ports/ReportSource.js"
import * as ApiAdapters from "../../../src/runtimes/aws/ApiAdapters.js"

// Nothing listens on port 9 here; building the layer must not try.
const settings: Record<string, string> = {
  AWS_REGION: "eu-west-1",
  DYNAMODB_ENDPOINT: "http://127.0.0.1:9",
  DYNAMODB_JOBS_TABLE: "jobs",
  DYNAMODB_NOTIFICATIONS_TABLE: "notifications",
  DYNAMODB_AUDIT_TABLE: "audit",
  SQS_ENDPOINT: "http://127.0.0.1:9",
  SQS_QUEUE_URL: "http://127.0.0.1:9/000000000000/exports",
  S3_ENDPOINT: "http://127.0.0.1:9",
  S3_BUCKET: "exports",
  CLICKHOUSE_URL: "http://127.0.0.1:9/",
  APP_BASE_URL: "https://app.example.test/",
  EXPORTS_PER_USER: "3"
}

const build = <A, E>(layer: Layer.Layer<A, E>, values: Record<string, string>) =>
  Layer.build(layer).pipe(
    Effect.scoped,
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(values))))
  )

describe("ApiAdapters", () => {
  it.effect("builds every port the API needs from the settings, with no connection", () =>
    Effect.gen(function*() {
      const context = yield* build(ApiAdapters.layer, settings)
      const provided = [...context.unsafeMap.keys()]
      for (const tag of [JobStore, InAppNotifier, AuditTrail, JobQueue, FileStore, ReportSource, JobIds]) {
        expect(provided).toContain(tag.key)
      }
      expect(Context.get(context, ReadinessChecks).map((check) => check.name)).toStrictEqual([
        "jobs",
        "notifications",
        "queue"
      ])
      expect(Context.get(context, ExportLinks).appPage("j-1" as never)).toBe("https://app.example.test/exports/j-1")
      expect(Context.get(context, ExportSettings).limits.exportsPerUser).toBe(3)
      const withoutReportSource = yield* build(ApiAdapters.layerWithoutReportSource, settings)
      expect([...withoutReportSource.unsafeMap.keys()]).not.toContain(ReportSource.key)
      expect([...withoutReportSource.unsafeMap.keys()]).toContain(JobStore.key)
    }))

  it.effect("names every missing or malformed setting, of every adapter", () =>
    Effect.gen(function*() {
      const { CLICKHOUSE_URL: _, DYNAMODB_JOBS_TABLE: __, ...rest } = settings
      const error = yield* Effect.flip(build(ApiAdapters.layer, { ...rest, SQS_QUEUE_URL: "not a url" }))
      for (const name of ["DYNAMODB_JOBS_TABLE", "SQS_QUEUE_URL", "CLICKHOUSE_URL"]) {
        expect(inspect(error, { depth: null })).toContain(name)
      }
    }))
})

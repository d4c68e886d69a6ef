// The knobs of the export flow, read from configuration once at start-up. A malformed value fails start-up
// with the setting's name, never a job later.
import { Config, Context, Duration, Layer } from "effect"
import type { TenantLimits } from "../domain/TenantLimits.js"
import { MAX_LINK_TTL } from "./ports/FileStore.js"
import { defaultTenantLimits, tenantLimitsConfig } from "./TenantLimitSettings.js"

export interface ExportSettingsShape {
  /** How long the download link in the email stays valid. */
  readonly linkTtl: Duration.Duration
  /** The most one attempt of a query may run, from its start to its last row (see ADR 0004). */
  readonly queryTimeout: Duration.Duration
  /** How many times a worker may start one job before it is failed for good. */
  readonly maxAttempts: number
  /** Start files with a UTF-8 byte order mark, so that Excel reads accents right. */
  readonly csvBom: boolean
  /**
   * How long a running job's lease lasts without renewal: a worker renews it every third of it, and another
   * delivery takes the job over only once it has expired (ADR 28). Keep it under the queue's visibility timeout.
   */
  readonly lease: Duration.Duration
  /** How long a failed email is tried again, with growing pauses, before it is given up (ADR 3). */
  readonly emailRetryWindow: Duration.Duration
  /**
   * How long after its request a job may still be Queued, or Running with no live lease, before the sweeper fails it
   * and tells its user (ADR 30). Keep it longer than a message can circulate on the queue (its receives times the
   * visibility timeout), so that the sweeper never fails a job whose next delivery is only late.
   */
  readonly deadline: Duration.Duration
  /**
   * The longest a report's preview may take, its query included (ADR 35): a person waits on the page for it. Keep it
   * under the API's own request limit (10 seconds on the Lambda function).
   */
  readonly previewTimeout: Duration.Duration
  /** What one user or merchant may hold at once (ADR 45). */
  readonly limits: TenantLimits
}

const DEFAULT_LINK_TTL = Duration.hours(24)

/** EXPORT_LINK_TTL, apart: the file retention (Retention.ts) is checked against it too. */
export const linkTtlConfig: Config.Config<Duration.Duration> = Config.duration("EXPORT_LINK_TTL").pipe(
  Config.validate({
    message: `must be a positive duration of at most ${Duration.toDays(MAX_LINK_TTL)} days (signed links cannot ` +
      "last longer)",
    validation: (ttl) => Duration.greaterThan(ttl, Duration.zero) && Duration.lessThanOrEqualTo(ttl, MAX_LINK_TTL)
  }),
  Config.withDefault(DEFAULT_LINK_TTL)
)

/** A duration setting from `minimum` to `maximum`, both included, validated before its default is applied. */
const durationWithin = (
  name: string,
  range: {
    readonly minimum: Duration.Duration
    readonly maximum: Duration.Duration
    readonly message: string
    readonly fallback: Duration.Duration
  }
): Config.Config<Duration.Duration> =>
  Config.duration(name).pipe(
    Config.validate({ message: range.message, validation: (value) => Duration.between(value, range) }),
    Config.withDefault(range.fallback)
  )

export class ExportSettings extends Context.Tag("exports/ExportSettings")<ExportSettings, ExportSettingsShape>() {
  static readonly defaults: ExportSettingsShape = {
    linkTtl: DEFAULT_LINK_TTL,
    queryTimeout: Duration.minutes(10),
    maxAttempts: 3,
    csvBom: false,
    lease: Duration.seconds(60),
    emailRetryWindow: Duration.minutes(5),
    deadline: Duration.hours(6),
    previewTimeout: Duration.seconds(5),
    limits: defaultTenantLimits
  }

  // Each value is validated before its default is applied: validated after, a failure would lose the setting's name.
  static readonly config: Config.Config<ExportSettingsShape> = Config.all({
    linkTtl: linkTtlConfig,
    queryTimeout: Config.duration("EXPORT_QUERY_TIMEOUT").pipe(
      Config.validate({
        message: "must be a positive duration",
        validation: (timeout) => Duration.greaterThan(timeout, Duration.zero)
      }),
      Config.withDefault(ExportSettings.defaults.queryTimeout)
    ),
    maxAttempts: Config.integer("EXPORT_MAX_ATTEMPTS").pipe(
      Config.validate({ message: "must be from 1 to 10", validation: (n) => n >= 1 && n <= 10 }),
      Config.withDefault(ExportSettings.defaults.maxAttempts)
    ),
    csvBom: Config.boolean("EXPORT_CSV_BOM").pipe(Config.withDefault(ExportSettings.defaults.csvBom)),
    lease: durationWithin("EXPORT_LEASE", {
      minimum: Duration.seconds(1),
      maximum: Duration.minutes(15),
      message: "must be a duration from 1 second to 15 minutes",
      fallback: ExportSettings.defaults.lease
    }),
    emailRetryWindow: Config.duration("EMAIL_RETRY_WINDOW").pipe(
      Config.validate({
        message: "must be a duration of at most 1 hour",
        validation: (window) => Duration.lessThanOrEqualTo(window, Duration.hours(1))
      }),
      Config.withDefault(ExportSettings.defaults.emailRetryWindow)
    ),
    deadline: Config.duration("EXPORT_DEADLINE").pipe(
      Config.validate({
        message: "must be a duration of at least 1 second",
        validation: (deadline) => Duration.greaterThanOrEqualTo(deadline, Duration.seconds(1))
      }),
      Config.withDefault(ExportSettings.defaults.deadline)
    ),
    previewTimeout: durationWithin("PREVIEW_TIMEOUT", {
      minimum: Duration.seconds(1),
      maximum: Duration.seconds(30),
      message: "must be a duration from 1 second to 30 seconds",
      fallback: ExportSettings.defaults.previewTimeout
    }),
    limits: tenantLimitsConfig
  })

  static readonly layer = Layer.effect(ExportSettings, ExportSettings.config)

  static readonly layerWith = (overrides: Partial<ExportSettingsShape> = {}) =>
    Layer.succeed(ExportSettings, { ...ExportSettings.defaults, ...overrides })
}

// Every per-tenant cap, read from configuration here and nowhere else (ADR 45): the exports in progress per user and
// per merchant and the rows of one export (ExportSettings' `limits`), and the open event streams per user
// (EventStreamSettings). A malformed value fails start-up with the setting's name.
import { Config } from "effect"
import type { TenantLimits } from "../domain/TenantLimits.js"

export const defaultTenantLimits: TenantLimits = {
  exportsPerUser: 5,
  exportsPerMerchant: 20,
  rowsPerExport: 50_000_000,
  eventStreamsPerUser: 5
}

const cap = (name: string, max: number, fallback: number): Config.Config<number> =>
  Config.integer(name).pipe(
    Config.validate({ message: `must be from 1 to ${max}`, validation: (n) => n >= 1 && n <= max }),
    Config.withDefault(fallback)
  )

/** EVENT_STREAMS_PER_USER, apart: the event stream reads it without the export caps. */
export const eventStreamsPerUserConfig = cap("EVENT_STREAMS_PER_USER", 100, defaultTenantLimits.eventStreamsPerUser)

export const tenantLimitsConfig: Config.Config<TenantLimits> = Config.all({
  // A DynamoDB item lists a tenant's exports in progress (ADR 45): 1000 ids keep it far under its 400 KB.
  exportsPerUser: cap("EXPORTS_PER_USER", 1000, defaultTenantLimits.exportsPerUser),
  exportsPerMerchant: cap("EXPORTS_PER_MERCHANT", 1000, defaultTenantLimits.exportsPerMerchant),
  rowsPerExport: cap("ROWS_PER_EXPORT", 1_000_000_000, defaultTenantLimits.rowsPerExport),
  eventStreamsPerUser: eventStreamsPerUserConfig
})

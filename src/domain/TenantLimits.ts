// What one tenant may hold at once, so that no user or merchant starves the others (ADR 45). The rule is here; each
// store applies it atomically with the job's creation, in the way its technology allows.
import { Option } from "effect"
import { ExportLimitReached } from "./Errors.js"

/** The caps on exports in progress (Queued or Running) at once. */
export interface ActiveExportLimits {
  /** Per user of one merchant (an `Owner`). */
  readonly exportsPerUser: number
  /** Per merchant, all of its users together. */
  readonly exportsPerMerchant: number
}

/** Every per-tenant cap, read from configuration in one place (application/TenantLimitSettings.ts). */
export interface TenantLimits extends ActiveExportLimits {
  /** The most rows one export may write; a larger report fails, asking for a narrower range. */
  readonly rowsPerExport: number
  /** Open event streams per user in one process (ADR 33). */
  readonly eventStreamsPerUser: number
}

/** How many exports are in progress now, for the owner and for their merchant. */
export interface ActiveExportCounts {
  readonly user: number
  readonly merchant: number
}

/**
 * Whether one more export may start beside `active`: none when it may, else the cap it would pass, the user's first
 * (the narrower one tells the client more).
 */
export const exportLimitReached = (
  active: ActiveExportCounts,
  limits: ActiveExportLimits
): Option.Option<ExportLimitReached> =>
  active.user >= limits.exportsPerUser
    ? Option.some(new ExportLimitReached({ scope: "user", limit: limits.exportsPerUser }))
    : active.merchant >= limits.exportsPerMerchant
    ? Option.some(new ExportLimitReached({ scope: "merchant", limit: limits.exportsPerMerchant }))
    : Option.none()

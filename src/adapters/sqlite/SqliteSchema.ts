// The embedded database's schema as an ordered list of steps. A database records the last step it took in
// `PRAGMA user_version`; a step, once released, is never edited: a change is a new step at the end.

export interface Migration {
  /** 1, 2, 3...: the `user_version` the database has once this step is applied. */
  readonly version: number
  readonly name: string
  /** Statements run in one transaction with the version change. */
  readonly sql: string
}

/**
 * Jobs are kept as their schema's encoded JSON (`job`), with the columns the queries select and order by beside
 * it. `request_key` groups the exports that are the same request (report, format, dates) for the create's check of
 * the same export in progress. A message is its job's (one per job: `job_id` is its key); it is in flight while a
 * worker holds it, and invisible until `visible_at` after a receive or a retry.
 */
const initial = `
CREATE TABLE jobs (
  job_id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  status TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  idempotency_key TEXT,
  request_key TEXT NOT NULL,
  job TEXT NOT NULL
) STRICT;
CREATE INDEX jobs_by_owner ON jobs (merchant_id, user_id, job_id);
CREATE INDEX jobs_active_by_request ON jobs (merchant_id, user_id, request_key, job_id)
  WHERE status IN ('Queued', 'Running');
CREATE INDEX jobs_by_idempotency_key ON jobs (merchant_id, user_id, idempotency_key, requested_at)
  WHERE idempotency_key IS NOT NULL;

CREATE TABLE messages (
  job_id TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  published_at INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  receive_count INTEGER NOT NULL DEFAULT 0,
  in_flight INTEGER NOT NULL DEFAULT 0 CHECK (in_flight IN (0, 1))
) STRICT;
CREATE INDEX messages_by_visibility ON messages (visible_at, job_id);

CREATE TABLE dead_letters (
  id INTEGER PRIMARY KEY,
  job_id TEXT NOT NULL,
  body TEXT NOT NULL,
  receive_count INTEGER NOT NULL,
  reason TEXT NOT NULL,
  dead_at INTEGER NOT NULL
) STRICT;

CREATE TABLE notifications (
  id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  notification TEXT NOT NULL
) STRICT;
CREATE INDEX notifications_by_owner ON notifications (merchant_id, user_id, created_at, id);
`

/**
 * When a job or a notification may be deleted (application/Retention.ts), in epoch milliseconds; NULL for a job in
 * progress, which never is. Rows written before this step get theirs at the next start, from their JSON, by the
 * adapter that owns them: the periods live in Retention.ts, not in SQL. Dead letters go by their age (`dead_at`).
 */
const retention = `
ALTER TABLE jobs ADD COLUMN retained_until INTEGER;
CREATE INDEX jobs_by_retention ON jobs (retained_until);
ALTER TABLE notifications ADD COLUMN retained_until INTEGER;
CREATE INDEX notifications_by_retention ON notifications (retained_until);
CREATE INDEX dead_letters_by_age ON dead_letters (dead_at);
`

/**
 * Each export's audit trail (ADR 46): entries appended once, keyed by their job and id, with the time they are kept
 * until (their job's retention). `seq` keeps the order they were appended in among entries of the same instant.
 */
const auditTrail = `
CREATE TABLE audit_entries (
  seq INTEGER PRIMARY KEY,
  job_id TEXT NOT NULL,
  entry_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  retained_until INTEGER NOT NULL,
  entry TEXT NOT NULL,
  UNIQUE (job_id, entry_id)
) STRICT;
CREATE INDEX audit_entries_by_retention ON audit_entries (retained_until);
`

export const MIGRATIONS: ReadonlyArray<Migration> = [
  { version: 1, name: "jobs, messages, dead letters and notifications", sql: initial },
  { version: 2, name: "retention of jobs, notifications and dead letters", sql: retention },
  { version: 3, name: "audit trail", sql: auditTrail }
]

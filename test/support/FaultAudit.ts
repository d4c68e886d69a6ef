// The fault matrix's audit: after a scenario, what the real stores and servers hold (job records, emails received,
// objects published) and what every worker logged, counted as the losses docs/reliability.md tabulates. A scenario
// gathers an `Observed` from its stack (`observeNodeStack`, `observeEmbedded`); `countFaults` does the counting.
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3"
import { Effect, HashMap, Layer, Logger, Option, Redacted, Schema } from "effect"
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as DynamoDb from "../../src/adapters/dynamodb/DynamoDb.js"
import * as DynamoDbJobStore from "../../src/adapters/dynamodb/DynamoDbJobStore.js"
import { clientConfig } from "../../src/adapters/s3/S3FileStore.js"
import { JobStore } from "../../src/application/ports/JobStore.js"
import { ExportJob } from "../../src/domain/ExportJob.js"
import { EmailAddress, ExportJobId } from "../../src/domain/Identifiers.js"
import { settingsFor as s3SettingsFor } from "../adapters/s3/S3Support.js"
import { emailsFor, filesUnder } from "./EmbeddedProcess.js"
import { DynaliteServer } from "./servers/DynaliteServer.js"
import { S3rverServer } from "./servers/S3rverServer.js"
import { SesLocalServer } from "./servers/SesLocalServer.js"

/** The counts of docs/reliability.md's table, one a column. */
export interface FaultCounts {
  /** Answered 202, and the store has no record of it. */
  readonly jobsLost: number
  /** Queued or Running once the scenario is over. */
  readonly stuck: number
  /** Two runs of one job live at once, or more than one run that reached its end. */
  readonly runTwice: number
  /** A finished job whose user received more than one email. */
  readonly emailsDuplicated: number
  /** A finished job that owed an email, whose user received none and was not told so by an ERROR log line. */
  readonly emailsLost: number
  /** A published object that no Succeeded record names, or whose size or SHA-256 is not the record's. */
  readonly partialObjects: number
}

export const NO_FAULTS: FaultCounts = {
  jobsLost: 0,
  stuck: 0,
  runTwice: 0,
  emailsDuplicated: 0,
  emailsLost: 0,
  partialObjects: 0
}

/** One line a worker logged, in this process or a child's: enough to follow a job's runs. */
export interface WorkLine {
  /** The worker (process or in-process instance) that logged it. */
  readonly source: string
  readonly at: number
  readonly level: string
  readonly message: string
  readonly jobId: string | undefined
  readonly fields: Readonly<Record<string, unknown>>
}

/** How a worker's log ended: killed (SIGKILL) or stopped (SIGTERM, its scope closed), and when. */
export interface SourceEnd {
  readonly source: string
  readonly at: number
  readonly how: "killed" | "stopped"
}

export interface PublishedObject {
  readonly key: string
  readonly bytes: Buffer
}

/** What a scenario leaves behind, read from the real stores and servers. */
export interface Observed {
  /** The jobIds the API answered 202 for. */
  readonly accepted: ReadonlyArray<string>
  /** The store's records of those jobs (an accepted job without one is lost). */
  readonly records: ReadonlyArray<ExportJob>
  /** Emails the provider (or outbox) received, by jobId. */
  readonly emails: ReadonlyMap<string, number>
  readonly objects: ReadonlyArray<PublishedObject>
  readonly lines: ReadonlyArray<WorkLine>
  readonly ends: ReadonlyArray<SourceEnd>
}

export interface Audit {
  readonly counts: FaultCounts
  /** The jobIds behind each count, for a failing test's message. */
  readonly jobs: { readonly [K in keyof FaultCounts]: ReadonlyArray<string> }
  /** Emails given up after their retry window and logged at ERROR with the jobId: told, so not counted as lost. */
  readonly toldEmailFailures: ReadonlyArray<string>
}

/** A line that ends a run in the worker that logged it. */
const RUN_ENDS = new Set([
  "export succeeded",
  "export failed",
  "lease released",
  "lease lost: the job changed under this worker; stopping the export"
])
const RUN_COMPLETES = new Set(["export succeeded", "export failed"])

interface Run {
  readonly source: string
  readonly start: number
  readonly end: number
  readonly completed: boolean
}

/** Every "export running" of `jobId`, each until its end line in the same worker, or until that worker ended. */
export const runsOf = (observed: Pick<Observed, "lines" | "ends">, jobId: string): ReadonlyArray<Run> =>
  observed.lines
    .filter((line) => line.jobId === jobId && line.message === "export running")
    .map((started) => {
      const ended = observed.lines.find((line) =>
        line.source === started.source && line.jobId === jobId && line.at >= started.at && RUN_ENDS.has(line.message)
      )
      const sourceEnd = observed.ends.find((end) => end.source === started.source)?.at ?? Number.POSITIVE_INFINITY
      return {
        source: started.source,
        start: started.at,
        end: ended === undefined ? sourceEnd : Math.min(ended.at, sourceEnd),
        completed: ended !== undefined && RUN_COMPLETES.has(ended.message)
      }
    })

const overlap = (a: Run, b: Run) => a.start < b.end && b.start < a.end

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex")

export const countFaults = (observed: Observed): Audit => {
  const byId = new Map(observed.records.map((job) => [job.jobId as string, job]))
  const lost = observed.accepted.filter((jobId) => !byId.has(jobId))
  const stuck = observed.records.filter((job) => job._tag === "Queued" || job._tag === "Running").map((j) => j.jobId)

  const runTwice = observed.records.map((job) => job.jobId).filter((jobId) => {
    const runs = runsOf(observed, jobId)
    const overlapping = runs.some((a, i) => runs.slice(i + 1).some((b) => overlap(a, b)))
    return overlapping || runs.filter((run) => run.completed).length > 1
  })

  const owingEmail = observed.records.flatMap((job) =>
    (job._tag === "Succeeded" || job._tag === "Failed") && job.notifications.email !== "skipped" ? [job] : []
  )
  const emailsOf = (jobId: string) => observed.emails.get(jobId) ?? 0
  const duplicated = owingEmail.filter((job) => emailsOf(job.jobId) > 1).map((job) => job.jobId)
  const told = owingEmail.filter((job) =>
    emailsOf(job.jobId) === 0 && job.notifications.email === "failed" &&
    observed.lines.some((line) =>
      line.jobId === job.jobId && line.level === "ERROR" && line.message === "notification failed" &&
      line.fields["channel"] === "email"
    )
  ).map((job) => job.jobId)
  const emailsLost = owingEmail.filter((job) => emailsOf(job.jobId) === 0 && !told.includes(job.jobId)).map((job) =>
    job.jobId
  )

  const named = new Map(
    observed.records.flatMap((job) => job._tag === "Succeeded" ? [[job.result.objectKey as string, job] as const] : [])
  )
  const partial = observed.objects.filter((object) => {
    const job = named.get(object.key)
    return job === undefined || job._tag !== "Succeeded" || object.bytes.length !== job.result.byteSize ||
      sha256(object.bytes) !== job.result.sha256
  }).map((object) => object.key)
  // A record naming a file that is not there is counted with them: its download is broken all the same.
  const missing = [...named.keys()].filter((key) => !observed.objects.some((object) => object.key === key))

  const jobs = {
    jobsLost: lost,
    stuck,
    runTwice,
    emailsDuplicated: duplicated,
    emailsLost,
    partialObjects: [...partial, ...missing]
  }
  return {
    counts: {
      jobsLost: jobs.jobsLost.length,
      stuck: jobs.stuck.length,
      runTwice: jobs.runTwice.length,
      emailsDuplicated: jobs.emailsDuplicated.length,
      emailsLost: jobs.emailsLost.length,
      partialObjects: jobs.partialObjects.length
    },
    jobs,
    toldEmailFailures: told
  }
}

/** The JSON lines a child process printed (JsonLogLines' shape), as WorkLines of `source`. */
export const jsonLines = (source: string, output: ReadonlyArray<string>): ReadonlyArray<WorkLine> =>
  output.join("").split("\n").flatMap((text) => {
    if (!text.startsWith("{")) return []
    try {
      const { jobId, level, message, timestamp, ...fields } = JSON.parse(text) as Record<string, unknown>
      return [{
        source,
        at: Date.parse(String(timestamp)),
        level: String(level),
        message: String(message),
        jobId: typeof jobId === "string" ? jobId : undefined,
        fields
      }]
    } catch {
      return []
    }
  })

/** A logger for an in-process worker that keeps its lines as WorkLines of `source`, timed as they are logged. */
export const workLog = (source: string) => {
  const lines: Array<WorkLine> = []
  const logger = Logger.make<unknown, void>(({ annotations, date, logLevel, message }) => {
    const parts: ReadonlyArray<unknown> = Array.isArray(message) ? message : [message]
    const fields = Object.fromEntries(HashMap.toEntries(annotations))
    for (const part of parts.slice(1)) {
      if (typeof part === "object" && part !== null) Object.assign(fields, part)
    }
    lines.push({
      source,
      at: date.getTime(),
      level: logLevel.label,
      message: String(parts[0]),
      jobId: typeof fields["jobId"] === "string" ? fields["jobId"] : undefined,
      fields
    })
  })
  return { lines, logger }
}

/** The Node stack's records (dynalite), emails (the SES server's store, by the job's recipient) and bucket. */
export const observeNodeStack = (
  accepted: ReadonlyArray<string>,
  lines: ReadonlyArray<WorkLine>,
  ends: ReadonlyArray<SourceEnd>
) =>
  Effect.gen(function*() {
    const dynamo = yield* DynaliteServer
    const ses = yield* SesLocalServer
    const s3 = yield* S3rverServer
    const records = yield* JobStore.pipe(
      Effect.flatMap((store) => Effect.forEach(accepted, (jobId) => store.get(ExportJobId.make(jobId)))),
      Effect.map((found) => found.flatMap(Option.toArray)),
      Effect.orDie,
      Effect.provide(DynamoDbJobStore.layer.pipe(Layer.provide(DynamoDb.layer(dynamo.settings))))
    )
    const recipients = records.map((job) => Redacted.value(job.email))
    if (new Set(recipients).size !== recipients.length) {
      return yield* Effect.dieMessage("each audited job needs a recipient of its own: emails are counted by address")
    }
    const emails = new Map<string, number>()
    for (const job of records) {
      emails.set(job.jobId, (yield* ses.sentTo(EmailAddress.make(Redacted.value(job.email)))).length)
    }
    const client = new S3Client(clientConfig(s3SettingsFor(s3)))
    const objects = yield* Effect.promise(async () => {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))
      return Promise.all((listed.Contents ?? []).map(async ({ Key }) => {
        const object = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key }))
        return { key: Key ?? "", bytes: Buffer.from(await object.Body!.transformToByteArray()) }
      }))
    }).pipe(Effect.ensuring(Effect.sync(() => client.destroy())))
    return { accepted, records, emails, objects, lines, ends } satisfies Observed
  })

const decodeJob = Schema.decodeUnknownSync(Schema.parseJson(ExportJob))

/**
 * The embedded server's records (its SQLite file, read once the server has stopped: it holds the file exclusively
 * while it runs), its outbox's emails (by their X-Export-Job-Id header) and the files it publishes under
 * `files/exports/`, beside which it keeps each file's `.meta.json`.
 */
export const observeEmbedded = (
  dataDir: string,
  accepted: ReadonlyArray<string>,
  lines: ReadonlyArray<WorkLine>,
  ends: ReadonlyArray<SourceEnd>
): Observed => {
  const db = new DatabaseSync(join(dataDir, "exports.sqlite"), { readOnly: true })
  const records = (() => {
    try {
      return db.prepare("SELECT job FROM jobs").all().map((row) => decodeJob(row["job"]))
    } finally {
      db.close()
    }
  })()
  const files = join(dataDir, "files")
  const objects = filesUnder(join(files, "exports"))
    .filter((name) => !name.endsWith(".meta.json"))
    .map((name) => ({ key: `exports/${name}`, bytes: readFileSync(join(files, "exports", name)) }))
  const emails = new Map(records.map((job) => [job.jobId as string, emailsFor(dataDir, job.jobId).length]))
  return { accepted, records, emails, objects, lines, ends }
}

/** The rows of the embedded queue's tables, for a scenario's evidence. */
export const embeddedQueue = (dataDir: string) => {
  if (!existsSync(join(dataDir, "exports.sqlite"))) return { messages: 0, deadLetters: 0 }
  const db = new DatabaseSync(join(dataDir, "exports.sqlite"), { readOnly: true })
  try {
    const count = (table: string) => Number(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()?.["n"] ?? 0)
    return { messages: count("messages"), deadLetters: count("dead_letters") }
  } finally {
    db.close()
  }
}

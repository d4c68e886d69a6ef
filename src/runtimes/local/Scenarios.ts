// The paths an export can take, each as the faults that force it and the end it must reach. The simulator
// runs them; a run that ends anywhere else is a bug.
import type { Faults } from "../../adapters/memory/FaultInjection.js"
import type { FailureReason, JobStatus } from "../../domain/ExportJob.js"

export interface Scenario {
  readonly name: string
  readonly description: string
  readonly faults: Faults
  /** How often each fault fires before healing; unlimited when absent. */
  readonly times?: Partial<Record<keyof Faults, number>>
  /** Deliver the job's message once more after it finished, as an at-least-once queue may. */
  readonly redeliver?: boolean
  readonly expect: {
    readonly status: JobStatus | "Rejected"
    readonly reason?: FailureReason
    readonly emails: number
    readonly inApp: number
  }
}

export const SCENARIOS: ReadonlyArray<Scenario> = [
  {
    name: "success",
    description: "the report streams, uploads, gets a link; the user is told in-app and by email",
    faults: {},
    expect: { status: "Succeeded", emails: 1, inApp: 1 }
  },
  {
    name: "query-timeout",
    description: "the query times out after some rows; the user is told to narrow the range",
    faults: { query: { kind: "timeout", afterRows: 100 } },
    expect: { status: "Failed", reason: "QueryTimeout", emails: 1, inApp: 1 }
  },
  {
    name: "query-error",
    description: "the database fails mid-stream; no partial file is published",
    faults: { query: { kind: "error", afterRows: 100, retryable: false } },
    expect: { status: "Failed", reason: "QueryFailed", emails: 1, inApp: 1 }
  },
  {
    name: "upload-failure",
    description: "object storage refuses the upload for good",
    faults: { upload: { afterBytes: 1_000, retryable: false } },
    expect: { status: "Failed", reason: "UploadFailed", emails: 1, inApp: 1 }
  },
  {
    name: "upload-transient",
    description: "the first upload fails transiently; the retry schedule recovers it",
    faults: { upload: { afterBytes: 1_000, retryable: true } },
    times: { upload: 1 },
    expect: { status: "Succeeded", emails: 1, inApp: 1 }
  },
  {
    name: "signing-failure",
    description: "the file is stored but no link can be signed",
    faults: { signing: true },
    times: { signing: 1 },
    expect: { status: "Failed", reason: "LinkSigningFailed", emails: 1, inApp: 1 }
  },
  {
    name: "email-down",
    description:
      "the email provider is down: the job still succeeds, the in-app notice goes out, the email is tried again " +
      "for its retry window and then given up",
    faults: { email: true },
    expect: { status: "Succeeded", emails: 0, inApp: 1 }
  },
  {
    name: "in-app-down",
    description: "the in-app notification service is down: the job still succeeds and the email goes out",
    faults: { inApp: true },
    expect: { status: "Succeeded", emails: 1, inApp: 0 }
  },
  {
    name: "queue-down",
    description: "the queue refuses the message: the request is answered with QueueUnavailable, no job waits",
    faults: { queue: true },
    expect: { status: "Rejected", reason: "QueueUnavailable", emails: 0, inApp: 0 }
  },
  {
    name: "redelivery",
    description: "the message is delivered again after the job finished: nothing happens twice",
    faults: {},
    redeliver: true,
    expect: { status: "Succeeded", emails: 1, inApp: 1 }
  }
]

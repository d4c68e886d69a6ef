// The fault matrix's scenarios on the `npm run serve` + `npm run worker` compositions over the local servers
// (fauxqs, dynalite, s3rver, SES local). Each produces its fault, asserts that the fault really happened, and returns
// what the audit reads. Workers run as child processes where the fault needs a process (a kill, a second worker
// beside the first), and in this process otherwise.
import { DeleteMessageCommand } from "@aws-sdk/client-sqs"
import { expect } from "@effect/vitest"
import type { Layer } from "effect"
import { Duration, Effect, Exit, Fiber, Scope } from "effect"
import { SEND_TIMEOUT } from "../../src/adapters/ses/SesEmailSender.js"
import { EmailAddress } from "../../src/domain/Identifiers.js"
import { jsonLines, observeNodeStack, workLog } from "../support/FaultAudit.js"
import type { SourceEnd, WorkLine } from "../support/FaultAudit.js"
import {
  apiClient,
  bearerFor,
  eventually,
  localServers,
  localSettings,
  MULTIPART_EXPORT,
  MULTIPART_SETTINGS,
  spawnWorkerProcess,
  startApi,
  startWorker
} from "../support/NodeStack.js"
import type { Settings } from "../support/NodeStack.js"
import { DynaliteServer } from "../support/servers/DynaliteServer.js"
import { FauxqsServer, MAX_RECEIVE_COUNT } from "../support/servers/FauxqsServer.js"
import { partNumberOf, S3rverServer } from "../support/servers/S3rverServer.js"
import type { S3rverFaultAction, S3rverRequest } from "../support/servers/S3rverServer.js"
import { SesLocalServer } from "../support/servers/SesLocalServer.js"
import { tcpSwitch } from "../support/servers/TcpSwitch.js"

const HALF_YEAR = { reportType: "orders", format: "csv", dateFrom: "2025-01-01", dateTo: "2025-06-30" }
const QUARTER = { reportType: "orders", format: "csv", dateFrom: "2025-01-01", dateTo: "2025-03-31" }

/**
 * Holds every part of a multipart upload after the first: a worker stopped or killed then is in the middle of its
 * upload, with its object incomplete (a held request's body may be whole already, and would land when released).
 */
const holdLaterParts = (request: S3rverRequest): S3rverFaultAction => (partNumberOf(request) ?? 0) > 1 ? "hold" : "pass"

/** A deadline of seconds, swept every second: a scenario sees the sweeper at work without waiting hours. */
const SWEEP_SOON_DEADLINE_MILLIS = 3_000
const SWEEP_SOON = {
  EXPORT_DEADLINE: `${SWEEP_SOON_DEADLINE_MILLIS} millis`,
  SWEEP_INTERVAL: "1 second",
  // Renewed every third of it: a held upload's lease stays live, through a stall of seconds on a loaded machine
  // (a job no worker took has no lease to wait out).
  EXPORT_LEASE: "6 seconds"
}
/** The sweeper's line for a job it fails (src/application/RunExport.ts). */
const SWEEPER_FAILS = "job is past its deadline and no worker holds it; failing it"

const userFor = (name: string) => ({ sub: `${name}-user`, merchantId: "m-acme", email: `${name}@example.test` })

/** What a scenario on this stack keeps while it runs: the accepted jobs, every worker's lines and how each ended. */
const journal = () => {
  const accepted: Array<string> = []
  const logs: Array<() => ReadonlyArray<WorkLine>> = []
  const ends: Array<SourceEnd> = []
  return {
    accepted,
    ends,
    lines: () => logs.flatMap((read) => read()),
    /** A worker in this process, until `stop` (its scope closed, as SIGTERM closes `npm run worker`'s). */
    inProcessWorker: (source: string, settings: Settings) =>
      Effect.gen(function*() {
        const log = workLog(source)
        logs.push(() => log.lines)
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
        yield* startWorker(settings, log.logger).pipe(Scope.extend(scope))
        return {
          lines: () => log.lines,
          stop: Scope.close(scope, Exit.void).pipe(
            Effect.zipRight(Effect.sync(() => ends.push({ source, at: Date.now(), how: "stopped" })))
          )
        }
      }),
    /** `npm run worker` as a child process, until `end(signal)`. */
    childWorker: (source: string, settings: Settings) =>
      Effect.gen(function*() {
        const child = yield* spawnWorkerProcess(settings)
        logs.push(() => jsonLines(source, child.output))
        return {
          lines: () => jsonLines(source, child.output),
          alive: () => child.child.exitCode === null && child.child.signalCode === null,
          end: (signal: "SIGKILL" | "SIGTERM") =>
            Effect.promise(() => {
              const at = Date.now()
              child.child.kill(signal)
              return child.exited.then((how) => {
                ends.push({ source, at, how: signal === "SIGKILL" ? "killed" : "stopped" })
                return how
              })
            })
        }
      })
  }
}

const messagesOf = (lines: ReadonlyArray<WorkLine>, jobId: string, message: string) =>
  lines.filter((line) => line.jobId === jobId && line.message === message)

/** The API on fresh settings, a user of the scenario's own, and its export accepted. */
const accept = (name: string, overrides: Record<string, string>, body: Record<string, unknown>) =>
  Effect.gen(function*() {
    const settings = yield* localSettings(overrides)
    yield* startApi(settings)
    const user = userFor(name)
    const api = apiClient(settings, yield* bearerFor(user))
    return { settings, api, user, request: api.requestExport(body) }
  })

const acceptedJob = (response: { readonly status: number; readonly body: { readonly jobId: string } }) => {
  expect(response.status).toBe(202)
  return response.body.jobId
}

/** Waits until the queue and its dead-letter queue are as `expected`. */
const queuesSettle = (expected: { readonly queue: number; readonly deadLetters: number }) =>
  Effect.gen(function*() {
    const sqs = yield* FauxqsServer
    const read = Effect.all({ queue: sqs.depth(sqs.queueUrl), deadLetters: sqs.depth(sqs.dlqUrl) })
    const total = (d: { readonly visible: number; readonly inFlight: number }) => d.visible + d.inFlight
    const depths = yield* eventually(
      read,
      (d) => total(d.queue) === expected.queue && total(d.deadLetters) === expected.deadLetters,
      "30 seconds"
    )
    expect({ queue: total(depths.queue), deadLetters: total(depths.deadLetters) }).toStrictEqual(expected)
  })

const onLocalServers = <A, E>(scenario: Effect.Effect<A, E, Scope.Scope | LocalServers>) =>
  scenario.pipe(Effect.scoped, Effect.provide(localServers))

type LocalServers = Layer.Layer.Success<typeof localServers>

/**
 * The worker process SIGKILLed while its upload is held (mid-export), then `npm run worker` started again: the
 * message comes back after its visibility, the dead worker's lease has run out, and the new process finishes the job.
 */
export const workerKilledAndRestarted = onLocalServers(Effect.gen(function*() {
  const s3 = yield* S3rverServer
  const run = journal()
  const { request, settings } = yield* accept("fault-killed", {
    ...MULTIPART_SETTINGS,
    SQS_VISIBILITY_SECONDS: "3",
    EXPORT_LEASE: "1 second"
  }, MULTIPART_EXPORT)
  s3.faults.set(holdLaterParts)
  yield* Effect.addFinalizer(() => Effect.sync(() => s3.faults.release()))
  const first = yield* run.childWorker("worker-1", settings)
  const jobId = acceptedJob(yield* request)
  run.accepted.push(jobId)

  // The fault: killed once the export is running and its upload has begun, and not before.
  const midExport = yield* eventually(
    Effect.sync(() => ({ held: s3.faults.held(), running: messagesOf(first.lines(), jobId, "export running") })),
    (seen) => seen.held > 0 && seen.running.length === 1,
    "30 seconds"
  )
  expect(midExport.held).toBeGreaterThan(0)
  expect(midExport.running).toHaveLength(1)
  expect(yield* first.end("SIGKILL")).toBe("SIGKILL")
  expect(messagesOf(first.lines(), jobId, "export succeeded")).toStrictEqual([])
  s3.faults.release()

  const second = yield* run.childWorker("worker-2", settings)
  const done = yield* eventually(
    Effect.sync(() => messagesOf(second.lines(), jobId, "notification sent")),
    (sent) => sent.length === 2,
    "40 seconds"
  )
  expect(done).toHaveLength(2)
  yield* queuesSettle({ queue: 0, deadLetters: 0 })
  expect(yield* second.end("SIGTERM")).toBe(0)
  // Taken over by the restarted process as the job's second attempt.
  expect(messagesOf(second.lines(), jobId, "export running").map((line) => line.fields["attempt"])).toStrictEqual([2])
  return yield* observeNodeStack(run.accepted, run.lines(), run.ends)
}))

/**
 * Two worker processes on one queue. The first's SQS calls are cut once it runs the export, so its heartbeat can no
 * longer extend the message's 2 s visibility: the message is delivered again, and again, to the second worker while
 * the first is alive and mid-export. The second leaves it to the first's live lease; the first finishes.
 */
export const deliveriesRace = onLocalServers(Effect.gen(function*() {
  const s3 = yield* S3rverServer
  const sqs = yield* FauxqsServer
  const run = journal()
  const { request, settings } = yield* accept("fault-race", { SQS_VISIBILITY_SECONDS: "2" }, HALF_YEAR)
  const firstSqs = yield* tcpSwitch(sqs.endpoint)
  s3.faults.set((req) => req.method === "PUT" ? "hold" : "pass")
  yield* Effect.addFinalizer(() => Effect.sync(() => s3.faults.release()))
  const first = yield* run.childWorker("worker-1", new Map([...settings, ["SQS_ENDPOINT", firstSqs.endpoint]]))
  const jobId = acceptedJob(yield* request)
  run.accepted.push(jobId)
  yield* eventually(
    Effect.sync(() => s3.faults.held() > 0 && messagesOf(first.lines(), jobId, "export running").length === 1),
    (midExport) => midExport,
    "30 seconds"
  )
  yield* firstSqs.setUp(false)

  const second = yield* run.inProcessWorker("worker-2", settings)
  // The fault: the message handed to the second worker (receive 2) while the first is alive and holds the job.
  const redelivered = yield* eventually(
    Effect.sync(() => second.lines().filter((line) => line.jobId === jobId && line.fields["receiveCount"] === 2)),
    (lines) => lines.length > 0,
    "30 seconds"
  )
  expect(redelivered.length).toBeGreaterThan(0)
  expect(first.alive()).toBe(true)
  expect(firstSqs.refused()).toBeGreaterThan(0)
  s3.faults.release()

  yield* eventually(
    Effect.sync(() => messagesOf(run.lines(), jobId, "notification sent")),
    (sent) => sent.length === 2,
    "30 seconds"
  )
  yield* firstSqs.setUp(true)
  yield* queuesSettle({ queue: 0, deadLetters: 0 })
  yield* second.stop
  expect(yield* first.end("SIGTERM")).toBe(0)
  return yield* observeNodeStack(run.accepted, run.lines(), run.ends)
}))

/** SES behind a switch the scenario turns off: the worker's view of the provider, down for `outage` from the start. */
const sesOutage = (
  name: string,
  window: Duration.DurationInput,
  outage: (jobId: string, lines: () => ReadonlyArray<WorkLine>) => Effect.Effect<void>
) =>
  onLocalServers(Effect.gen(function*() {
    const ses = yield* SesLocalServer
    const sesSwitch = yield* tcpSwitch(ses.endpoint.href.replace(/\/$/, ""))
    const run = journal()
    const { request, settings, user } = yield* accept(name, {
      SES_ENDPOINT: sesSwitch.endpoint,
      EMAIL_RETRY_WINDOW: `${Duration.toMillis(window)} millis`
    }, QUARTER)
    yield* sesSwitch.setUp(false)
    const worker = yield* run.inProcessWorker("worker", settings)
    const jobId = acceptedJob(yield* request)
    run.accepted.push(jobId)
    yield* outage(jobId, worker.lines)
    const downUntil = Date.now()
    yield* sesSwitch.setUp(true)
    // The fault landed: the worker's sends were refused, and tried again while SES was down.
    expect(sesSwitch.refused()).toBeGreaterThan(0)
    expect(messagesOf(worker.lines(), jobId, "email not sent via SES").length).toBeGreaterThanOrEqual(2)
    yield* eventually(
      Effect.sync(() =>
        messagesOf(worker.lines(), jobId, "notification sent").length +
        messagesOf(worker.lines(), jobId, "notification failed").length
      ),
      (settled) => settled === 2,
      "60 seconds"
    )
    yield* queuesSettle({ queue: 0, deadLetters: 0 })
    const received = yield* ses.sentTo(EmailAddress.make(user.email))
    // The emulator stamps what it receives in whole seconds.
    expect(received.every((email) => email.at >= Math.floor(downUntil / 1000))).toBe(true)
    yield* worker.stop
    return { observed: yield* observeNodeStack(run.accepted, run.lines(), run.ends), lines: worker.lines(), jobId }
  }))

/**
 * SES refuses every connection for longer than one send's own timeout (all its SDK attempts included), and comes
 * back within EMAIL_RETRY_WINDOW: the email is sent once, after SES is back.
 */
export const sesDownWithinWindow = Effect.gen(function*() {
  const outage = Duration.sum(SEND_TIMEOUT, Duration.seconds(2))
  const window = Duration.seconds(60)
  expect(Duration.lessThan(outage, window)).toBe(true)
  const { jobId, lines, observed } = yield* sesOutage("fault-ses-window", window, () => Effect.sleep(outage))
  expect(messagesOf(lines, jobId, "notification failed")).toStrictEqual([])
  expect(observed.emails.get(jobId)).toBe(1)
  return observed
})

/**
 * SES down past EMAIL_RETRY_WINDOW: the email is given up, recorded failed and logged at ERROR with the jobId, and
 * SES coming back afterwards sends nothing. A told loss, which the audit does not count as lost.
 */
export const sesDownPastWindow = Effect.gen(function*() {
  const { jobId, lines, observed } = yield* sesOutage("fault-ses-past", "3 seconds", (jobId, lines) =>
    eventually(
      Effect.sync(() => messagesOf(lines(), jobId, "notification failed")),
      (failed) => failed.length > 0,
      "30 seconds"
    ))
  const failed = messagesOf(lines, jobId, "notification failed")
  expect(failed.map((line) => [line.level, line.fields["channel"]])).toStrictEqual([["ERROR", "email"]])
  expect(observed.emails.get(jobId)).toBe(0)
  return observed
})

/**
 * The job store unreachable from the worker through every receive of the message, its last included: nothing can be
 * recorded, so the message goes to the dead-letter queue with its job left Queued (ADR 28). Once the store is back,
 * the worker's sweeper finds the job past its deadline with no lease, fails it and tells its user (ADR 30).
 */
export const deadLetteredStoreDown = onLocalServers(Effect.gen(function*() {
  const dynamo = yield* DynaliteServer
  const sqs = yield* FauxqsServer
  const storeSwitch = yield* tcpSwitch(dynamo.endpoint)
  const run = journal()
  const { request, settings } = yield* accept(
    "fault-dead-letter",
    { SQS_VISIBILITY_SECONDS: "1", ...SWEEP_SOON },
    QUARTER
  )
  yield* storeSwitch.setUp(false)
  // Down for the worker only: the API records the job and queues its message.
  const worker = yield* run.inProcessWorker(
    "worker",
    new Map([...settings, ["DYNAMODB_ENDPOINT", storeSwitch.endpoint]])
  )
  const jobId = acceptedJob(yield* request)
  run.accepted.push(jobId)
  // The fault: every receive found the store down, and the last one could not give the job up either.
  yield* queuesSettle({ queue: 0, deadLetters: 1 })
  const dead = yield* sqs.peek(sqs.dlqUrl)
  expect(dead.map((message) => message.MessageAttributes?.["jobId"]?.StringValue)).toStrictEqual([jobId])
  expect(
    messagesOf(
      worker.lines(),
      jobId,
      "job store unavailable on the message's last receive: the job cannot be failed; the message goes to the " +
        "dead-letter queue"
    )
  ).toHaveLength(1)
  expect(storeSwitch.refused()).toBeGreaterThan(0)

  // The store comes back; the sweeper does what no delivery is left to do.
  yield* storeSwitch.setUp(true)
  yield* eventually(
    Effect.sync(() => messagesOf(worker.lines(), jobId, "notification sent")),
    (sent) => sent.length === 2,
    "30 seconds"
  )
  expect(messagesOf(worker.lines(), jobId, SWEEPER_FAILS)).toHaveLength(1)
  yield* worker.stop
  return yield* observeNodeStack(run.accepted, run.lines(), run.ends)
}))

/**
 * The sweeper with short settings beside a live export that runs past its deadline (its upload held, its lease
 * renewed), and a job whose message was lost before any worker saw it. The sweeper fails the lost one and tells its
 * user, and leaves the live one, which finishes once its upload is let go.
 */
export const sweeperBesideLiveJobs = onLocalServers(Effect.gen(function*() {
  const s3 = yield* S3rverServer
  const sqs = yield* FauxqsServer
  const run = journal()
  const { api, request, settings } = yield* accept("fault-sweep-live", {
    ...MULTIPART_SETTINGS,
    ...SWEEP_SOON
  }, MULTIPART_EXPORT)
  const lostUser = userFor("fault-sweep-lost")
  const lost = apiClient(settings, yield* bearerFor(lostUser))

  // The fault: a job whose only message is deleted before any worker receives it.
  const lostJob = acceptedJob(yield* lost.requestExport(QUARTER))
  run.accepted.push(lostJob)
  const published = yield* eventually(sqs.peek(sqs.queueUrl, 60), (messages) => messages.length === 1)
  expect(published.map((message) => (JSON.parse(message.Body ?? "{}") as { jobId?: string }).jobId)).toStrictEqual([
    lostJob
  ])
  yield* Effect.promise(() =>
    sqs.client.send(new DeleteMessageCommand({ QueueUrl: sqs.queueUrl, ReceiptHandle: published[0]!.ReceiptHandle }))
  )

  s3.faults.set(holdLaterParts)
  yield* Effect.addFinalizer(() => Effect.sync(() => s3.faults.release()))
  const worker = yield* run.inProcessWorker("worker", settings)
  const liveJob = acceptedJob(yield* request)
  run.accepted.push(liveJob)
  const requested = Date.now()
  yield* eventually(
    Effect.sync(() => s3.faults.held() > 0 && messagesOf(worker.lines(), liveJob, "export running").length === 1),
    (midExport) => midExport,
    "30 seconds"
  )
  // The lost job is failed and its user told, while the live one, past its own deadline, keeps running.
  yield* eventually(
    Effect.sync(() => messagesOf(worker.lines(), lostJob, "notification sent")),
    (sent) => sent.length === 2,
    "30 seconds"
  )
  yield* Effect.sleep(Duration.millis(Math.max(0, requested + 2 * SWEEP_SOON_DEADLINE_MILLIS - Date.now())))
  expect((yield* api.exportOf(liveJob)).status).toBe("running")
  s3.faults.release()

  yield* eventually(
    Effect.sync(() => messagesOf(worker.lines(), liveJob, "notification sent")),
    (sent) => sent.length === 2,
    "40 seconds"
  )
  expect((yield* api.exportOf(liveJob)).status).toBe("succeeded")
  expect(messagesOf(worker.lines(), lostJob, SWEEPER_FAILS)).toHaveLength(1)
  expect(messagesOf(worker.lines(), liveJob, SWEEPER_FAILS)).toStrictEqual([])
  yield* worker.stop
  return yield* observeNodeStack(run.accepted, run.lines(), run.ends)
}))

/**
 * A worker stopped (its scope closed, as SIGTERM does) in the middle of the export on each of the message's
 * receives. Before the last, the message is put back; on the last, the job is failed as Abandoned, its user told
 * once each way, and the message acknowledged rather than dead-lettered.
 */
export const deadLetterAverted = onLocalServers(Effect.gen(function*() {
  const s3 = yield* S3rverServer
  const run = journal()
  const { request, settings, user } = yield* accept("fault-last-receive", {
    ...MULTIPART_SETTINGS,
    SQS_VISIBILITY_SECONDS: "5",
    // Longer than SQS_WAIT_SECONDS (1 s): the stopped consumer's aborted long poll has ended at the server before
    // the message is put back, or the server could hand it to that poll and use up a receive (docs/reliability.md).
    SHUTDOWN_GRACE: "1500 millis"
  }, MULTIPART_EXPORT)
  s3.faults.set(holdLaterParts)
  yield* Effect.addFinalizer(() => Effect.sync(() => s3.faults.release()))
  const jobId = { value: "" }
  const giveUp = "the message's last receive cannot finish its job; giving it up"
  // A stop can use up a receive without a run (a copy received while the stopped worker's lease was still live):
  // workers are started and stopped until the last receive has given the job up, at most one a receive.
  for (let receive = 1; receive <= MAX_RECEIVE_COUNT; receive++) {
    const worker = yield* run.inProcessWorker(`worker-${receive}`, settings)
    if (receive === 1) {
      jobId.value = acceptedJob(yield* request)
      run.accepted.push(jobId.value)
    }
    yield* eventually(
      Effect.sync(() => messagesOf(worker.lines(), jobId.value, "export running")),
      (lines) => lines.length === 1,
      "30 seconds"
    )
    // The fault: stopped mid-export, its upload held. The held parts are let go once the stop has interrupted the
    // run (its lease released), since the stop waits for the parts in flight; they land in an aborted upload.
    expect(yield* eventually(Effect.sync(() => s3.faults.held()), (held) => held > 0)).toBeGreaterThan(0)
    const stopping = yield* Effect.fork(worker.stop)
    yield* eventually(
      Effect.sync(() => messagesOf(worker.lines(), jobId.value, "lease released")),
      (released) => released.length === 1
    )
    s3.faults.release()
    yield* Fiber.join(stopping)
    s3.faults.set(holdLaterParts)
    if (messagesOf(worker.lines(), jobId.value, giveUp).length > 0) break
  }
  s3.faults.release()
  const lines = run.lines()
  expect(messagesOf(lines, jobId.value, giveUp).map((line) => line.fields["receiveCount"])).toStrictEqual([
    MAX_RECEIVE_COUNT
  ])
  expect(messagesOf(lines, jobId.value, "export running").length).toBeGreaterThanOrEqual(2)
  yield* queuesSettle({ queue: 0, deadLetters: 0 })
  const ses = yield* SesLocalServer
  const emails = yield* ses.sentTo(EmailAddress.make(user.email))
  expect(emails.map((email) => email.subject)).toHaveLength(1)
  const observed = yield* observeNodeStack(run.accepted, run.lines(), run.ends)
  expect(observed.records.map((job) => job._tag === "Failed" && job.failure.reason)).toStrictEqual(["Abandoned"])
  return observed
}))

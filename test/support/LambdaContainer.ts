// A built bundle run the way Lambda runs it: in a process of its own, with exactly the environment given (nothing
// inherited from the test's process), initialised once and then invoked event by event, for as long as a scope lives.
import { Data, Deferred, Effect, Queue } from "effect"
import { spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import type { Readable } from "node:stream"
import { fileURLToPath } from "node:url"

const PROGRAM = join(dirname(fileURLToPath(import.meta.url)), "programs", "lambdaContainer.mjs")

/** The function failed to initialise, as Lambda would report `Runtime.InitError`. */
export class InitFailed extends Data.TaggedError("InitFailed")<{ readonly message: string; readonly logs: string }> {}

export interface LambdaContainer {
  /** The handler's answer to `event`, with `remainingMillis` left in the invocation. */
  readonly invoke: (event: unknown, remainingMillis: number) => Effect.Effect<unknown>
  /** What the function logged so far (stdout and stderr). */
  readonly logs: Effect.Effect<string>
}

type Answer = { readonly ready: true } | { readonly initError: string } | { readonly result: unknown } | {
  readonly error: string
}

/** Starts `bundle` with `environment` as its whole environment; stopped (by its process handle) with the scope. */
export const startContainer = (bundle: string, environment: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [PROGRAM, bundle], {
          cwd: dirname(bundle),
          env: environment,
          stdio: ["pipe", "pipe", "pipe", "pipe"]
        })
      ),
      (child) => Effect.sync(() => child.kill("SIGKILL"))
    )
    let logs = ""
    child.stdout.on("data", (chunk: Buffer) => (logs += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (logs += chunk.toString("utf8")))
    const answers = yield* Queue.unbounded<Answer>()
    const exited = yield* Deferred.make<void>()
    createInterface({ input: child.stdio[3] as Readable }).on("line", (line) => {
      Queue.unsafeOffer(answers, JSON.parse(line) as Answer)
    })
    child.on("exit", () => Deferred.unsafeDone(exited, Effect.void))

    const next = Queue.take(answers).pipe(
      Effect.raceFirst(
        Deferred.await(exited).pipe(
          Effect.zipRight(Effect.suspend(() => Effect.dieMessage(`the function's process exited; its logs:\n${logs}`)))
        )
      )
    )
    const first = yield* next
    if ("initError" in first) return yield* new InitFailed({ message: first.initError, logs })

    const invoke = (event: unknown, remainingMillis: number) =>
      Effect.gen(function*() {
        child.stdin.write(`${JSON.stringify({ event, remainingMillis })}\n`)
        const answer = yield* next
        if ("error" in answer) return yield* Effect.dieMessage(`the handler threw ${answer.error}; logs:\n${logs}`)
        return "result" in answer ? answer.result : undefined
      })
    return { invoke, logs: Effect.sync(() => logs) } satisfies LambdaContainer
  })

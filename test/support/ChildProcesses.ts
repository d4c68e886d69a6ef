// One of this repository's programs as a child process of a test, run by node with tsx as its npm script runs it.
// Its output is collected; it is SIGKILLed by the process id started here when the scope closes, if still alive.
import { Effect } from "effect"
import { spawn } from "node:child_process"
import type { ChildProcessByStdio } from "node:child_process"
import { join } from "node:path"
import type { Readable } from "node:stream"

const ROOT = join(import.meta.dirname, "..", "..")

export interface ChildProgram {
  readonly child: ChildProcessByStdio<null, Readable, Readable>
  /** What it printed so far, stdout and stderr. */
  readonly output: Array<string>
  /** Its exit: the signal that ended it, or its exit code. */
  readonly exited: Promise<NodeJS.Signals | number | null>
}

/** Runs `node --import tsx <entry>` (a path from the repository's root) with `env` as its whole environment. */
export const spawnProgram = (entry: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  Effect.acquireRelease(
    Effect.sync((): ChildProgram => {
      const child = spawn(process.execPath, ["--import", "tsx", join(...entry)], {
        cwd: ROOT,
        env,
        stdio: ["ignore", "pipe", "pipe"]
      })
      const output: Array<string> = []
      child.stdout.setEncoding("utf8").on("data", (text: string) => output.push(text))
      child.stderr.setEncoding("utf8").on("data", (text: string) => output.push(text))
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
        child.once("exit", (code, signal) => resolve(signal ?? code))
      )
      return { child, output, exited }
    }),
    ({ child, exited }) =>
      Effect.promise(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
        return exited
      })
  )

// `npm start` as a user runs it, in a child process of the test (ChildProcesses.ts), on a data directory and port of
// the test's own. Stopped with SIGTERM (as Ctrl-C would) or killed with SIGKILL, always by the process id started.
import { Duration, Effect } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { signDevToken } from "../../src/adapters/auth/JwtVerifier.js"
import { localSecret } from "../../src/runtimes/server/EmbeddedConfig.js"
import { spawnProgram } from "./ChildProcesses.js"
import type { ChildProgram } from "./ChildProcesses.js"

/** Settings of the test's environment that would change what the embedded server does: the child gets none. */
const INHERITED_AWAY =
  /^(AUTH_|EXPORT_|APP_BASE_URL$|PUBLIC_BASE_URL$|HOST$|PORT$|DATA_DIR$|DEMO_ROWS$|WORKER_CONCURRENCY$|SHUTDOWN_GRACE$)/

export interface EmbeddedSettings {
  readonly dataDir: string
  readonly port: number
  readonly demoRows: number
  /** More of the child's environment: a fault switch (`EMBEDDED_FAULTS`), say. */
  readonly env?: Readonly<Record<string, string>>
}

export interface EmbeddedProcess extends ChildProgram {
  readonly base: string
}

/** Starts the embedded server and waits until it answers /health (at most `within`). */
export const startEmbedded = (settings: EmbeddedSettings, within: Duration.DurationInput = "90 seconds") => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !INHERITED_AWAY.test(name)))
  return spawnProgram(["src", "runtimes", "server", "main.ts"], {
    ...env,
    DATA_DIR: settings.dataDir,
    PORT: String(settings.port),
    HOST: "127.0.0.1",
    DEMO_ROWS: String(settings.demoRows),
    WORKER_CONCURRENCY: "1",
    SHUTDOWN_GRACE: "5 seconds",
    ...settings.env
  }).pipe(
    Effect.map((program): EmbeddedProcess => ({ ...program, base: `http://127.0.0.1:${settings.port}` })),
    Effect.tap((server) => waitHealthy(server, within))
  )
}

const waitHealthy = (server: EmbeddedProcess, within: Duration.DurationInput) =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(Duration.decode(within))
    while (Date.now() < deadline) {
      if (server.child.exitCode !== null || server.child.signalCode !== null) break
      const status = yield* Effect.promise(() =>
        fetch(`${server.base}/health`).then((response) => response.status, () => 0)
      )
      if (status === 200) return
      yield* Effect.sleep("200 millis")
    }
    return yield* Effect.dieMessage(`the embedded server did not become healthy:\n${server.output.join("")}`)
  })

/** Sends `signal` to the server's own process id and waits for it to exit; returns how it ended. */
export const stopEmbedded = (server: EmbeddedProcess, signal: "SIGTERM" | "SIGKILL" = "SIGTERM") =>
  Effect.promise(() => {
    server.child.kill(signal)
    return server.exited
  })

/** A bearer token signed with the key the server made in its data directory, as `npm run dev-token` signs. */
export const embeddedBearer = (
  dataDir: string,
  user: { readonly sub: string; readonly merchantId: string; readonly email: string }
) =>
  Effect.promise(() =>
    Effect.runPromise(localSecret(dataDir, "jwt-secret")).then((secret) =>
      signDevToken({ secret, ...user, ttl: Duration.hours(1) })
    )
  ).pipe(Effect.map((token) => ({ authorization: `Bearer ${token}` })))

/** The .eml files in the outbox that name `jobId` in their X-Export-Job-Id header. */
export const emailsFor = (dataDir: string, jobId: string): ReadonlyArray<string> => {
  const outbox = join(dataDir, "outbox")
  if (!existsSync(outbox)) return []
  return readdirSync(outbox)
    .filter((name) => name.endsWith(".eml"))
    .filter((name) => readFileSync(join(outbox, name), "utf8").includes(`X-Export-Job-Id: ${jobId}`))
}

/** Every file under `dir`, relative to it, sorted; none when it does not exist. */
export const filesUnder = (dir: string): ReadonlyArray<string> =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
      .sort()
    : []

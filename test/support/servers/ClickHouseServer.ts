// Debian's clickhouse-server (18.16) as a child process for as long as a scope, on 127.0.0.1 and free ports, with
// its config, data and logs in a temporary directory removed afterwards. Installed with apt-get when missing: CI
// machines start without it. 18.16 has no query parameters and speaks the old error format, so the tests on it run
// parameter-free SQL through the adapter's streaming code; the catalogue's SQL is tested on chdb.
import { Context, Duration, Effect, Layer, Schedule } from "effect"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ensureDebianPackage } from "../DebianPackages.js"

export const CLICKHOUSE_BINARY = "/usr/sbin/clickhouse-server"

const STARTUP_TIMEOUT = Duration.seconds(30)

/** Installs Debian's clickhouse-server when its binary is missing (DebianPackages.ts). */
export const ensureClickHouseInstalled = (): void => ensureDebianPackage("clickhouse-server", CLICKHOUSE_BINARY)

/** vitest's globalSetup hook. */
export const setup = (): void => ensureClickHouseInstalled()

export interface ClickHouseServerInfo {
  /** `http://127.0.0.1:<port>`: the HTTP interface, user `default` without a password. */
  readonly url: URL
  readonly pid: number
  /** Runs a statement over HTTP outside any adapter and returns the body: the test's own view of the server. */
  readonly query: (sql: string) => Effect.Effect<string>
}

export interface ClickHouseServerOptions {
  /**
   * Every query of the default user is kept in `system.query_log` (flushed within a second, or at once with
   * `SYSTEM FLUSH LOGS`): off unless asked, as 18.16 has it.
   */
  readonly logQueries?: boolean
}

const freePort = Effect.async<number>((resume) => {
  const probe = createServer()
  probe.listen(0, "127.0.0.1", () => {
    const { port } = probe.address() as AddressInfo
    probe.close(() => resume(Effect.succeed(port)))
  })
})

const configXml = (dir: string, name: string, ports: { http: number; tcp: number; interserver: number }) =>
  `<?xml version="1.0"?>
<yandex>
  <display_name>${name}</display_name>
  <logger><level>warning</level><log>${dir}/log/server.log</log><errorlog>${dir}/log/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${ports.http}</http_port>
  <tcp_port>${ports.tcp}</tcp_port>
  <interserver_http_port>${ports.interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>32</max_concurrent_queries>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <query_log>
    <database>system</database>
    <table>query_log</table>
    <flush_interval_milliseconds>1000</flush_interval_milliseconds>
  </query_log>
</yandex>
`

const usersXml = (options: ClickHouseServerOptions) => {
  const logQueries = options.logQueries === true ? "<log_queries>1</log_queries>" : ""
  return `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage>${logQueries}</default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`
}

const post = (url: URL, sql: string) =>
  Effect.tryPromise(async () => {
    const response = await fetch(url, { method: "POST", body: sql })
    const body = await response.text()
    if (!response.ok) throw new Error(`ClickHouse answered ${response.status}: ${body}`)
    return body
  })

const stop = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const forceKill = setTimeout(() => child.kill("SIGKILL"), 10_000)
    child.once("exit", () => {
      clearTimeout(forceKill)
      resume(Effect.void)
    })
    child.kill("SIGTERM")
  })

/** One attempt: free ports a moment ago may have been taken since, and then the server exits at once. */
const startOnce = (dir: string, options: ClickHouseServerOptions) =>
  Effect.gen(function*() {
    const ports = { http: yield* freePort, tcp: yield* freePort, interserver: yield* freePort }
    for (const sub of ["data", "tmp", "user_files", "format_schemas", "log"]) {
      mkdirSync(join(dir, sub), { recursive: true })
    }
    writeFileSync(join(dir, "users.xml"), usersXml(options))
    const name = `test-${randomUUID()}`
    writeFileSync(join(dir, "config.xml"), configXml(dir, name, ports))
    const url = new URL(`http://127.0.0.1:${ports.http}/`)
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(CLICKHOUSE_BINARY, [`--config-file=${join(dir, "config.xml")}`], {
          cwd: dir,
          stdio: ["ignore", "pipe", "pipe"]
        })
        const keep = (data: Buffer) => void (output = (output + data.toString("utf8")).slice(-4_000))
        child.stdout?.on("data", keep)
        child.stderr?.on("data", keep)
        // A test process that exits without closing its scope (a crash, a timeout) takes its server with it.
        const killOnExit = () => child.kill("SIGKILL")
        process.once("exit", killOnExit)
        child.once("exit", () => process.off("exit", killOnExit))
        return child
      }),
      stop
    )
    yield* Effect.tryPromise(async () => {
      if (child.exitCode !== null) throw new Error(`clickhouse-server exited with ${child.exitCode}: ${output}`)
      const ping = await fetch(new URL("ping", url))
      if ((await ping.text()) !== "Ok.\n") throw new Error("not ready")
      // The port was free a moment ago; make sure it is this server that answers, not one that took it since.
      const answer = await fetch(url, { method: "POST", body: "SELECT 1" })
      await answer.text()
      if (answer.headers.get("x-clickhouse-server-display-name") !== name) throw new Error("another server answers")
    }).pipe(
      Effect.retry({
        schedule: Schedule.spaced(Duration.millis(100)),
        while: (error) => !/exited|another server/.test(String(error.error))
      }),
      Effect.timeoutFail({
        duration: STARTUP_TIMEOUT,
        onTimeout: () => new Error(`clickhouse-server did not answer /ping: ${output}`)
      })
    )
    return { url, pid: child.pid!, query: (sql: string) => Effect.orDie(post(url, sql)) } satisfies ClickHouseServerInfo
  })

/** Starts a server in a fresh temporary directory; on scope close, kills it by its pid and removes the directory. */
export const startClickHouseServerWith = (options: ClickHouseServerOptions) =>
  Effect.gen(function*() {
    yield* Effect.sync(ensureClickHouseInstalled)
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "clickhouse-server-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    // A port found free may be taken before the server binds it; then it exits at once, and another try takes
    // fresh ports in a directory of its own. A failed try's process is stopped with the scope, as is the server.
    let attempt = 0
    return yield* Effect.suspend(() => startOnce(join(dir, `try-${++attempt}`), options)).pipe(
      Effect.retry({ times: 2 }),
      Effect.orDie
    )
  })

/** A server that logs no queries. */
export const startClickHouseServer = startClickHouseServerWith({})

export class ClickHouseServer extends Context.Tag("test/ClickHouseServer")<ClickHouseServer, ClickHouseServerInfo>() {
  static readonly layer: Layer.Layer<ClickHouseServer> = Layer.scoped(ClickHouseServer, startClickHouseServer)
  /** A server that keeps every query in `system.query_log`, for tests that ask which queries it ran. */
  static readonly layerLoggingQueries: Layer.Layer<ClickHouseServer> = Layer.scoped(
    ClickHouseServer,
    startClickHouseServerWith({ logQueries: true })
  )
}

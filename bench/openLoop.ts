// bench:accept's open loop: requests sent on a fixed schedule whatever the answers, over a fixed set of keep-alive
// connections, each response timed from the moment its request was due (as wrk2 does), not from its sending.
//
// Why not autocannon's `overallRate`: autocannon 9 gives each connection a quota of rate/connections requests a
// second, refilled by a 1 s interval, and a connection sends its quota back to back, one after each answer. All
// connections start together, so a second's requests leave in a burst at its start (63% of them in its first 50 ms,
// none after 250 ms, measured): a closed loop of 50 requests in flight for part of each second, then silence. An
// open loop at 1,000 req/s sends one request every millisecond (ADR 51).
//
// Request k is due at start + k / rate and goes on connection k % connections, so each connection sends one request
// every connections / rate seconds, the connections staggered across that interval. A request due while its
// connection still waits for an answer (pipelining 1) waits on that connection, and that wait counts in its time.
import { connect, type Socket } from "node:net"

export interface OpenLoopRequest {
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export interface OpenLoopOptions {
  readonly port: number
  readonly connections: number
  /** Requests per second, in all. */
  readonly rate: number
  /** Seconds over which requests are due; the answers of the last ones are waited for after it. */
  readonly seconds: number
  /** Seconds before an unanswered request counts as timed out (its connection is then replaced). */
  readonly timeoutSeconds: number
  readonly request: (index: number) => OpenLoopRequest
  readonly onResponse: (status: number, body: string) => void
}

export interface OpenLoopResult {
  /** Each answered request's time in ms, from when it was due to its whole response. */
  readonly latencies: Float64Array
  /** Each answered request's time in ms from its actual sending (what autocannon reports), for comparison. */
  readonly fromSend: Float64Array
  /** How late each request was sent after it was due, in ms: the connection's wait plus this process's own lag. */
  readonly sendLag: Float64Array
  readonly statuses: Map<number, number>
  /** Answers in each second from the start. */
  readonly perSecond: Array<number>
  readonly errors: number
  readonly timeouts: number
  /** The schedule's length in seconds (the rate's denominator). */
  readonly seconds: number
  /** This process's CPU over the run, 1 = one core. */
  readonly loadgenCpu: number
}

/** A growing array of float64s. */
class Samples {
  private values = new Float64Array(1 << 14)
  private count = 0
  push(value: number): void {
    if (this.count === this.values.length) {
      const larger = new Float64Array(this.values.length * 2)
      larger.set(this.values)
      this.values = larger
    }
    this.values[this.count++] = value
  }
  get array(): Float64Array {
    return this.values.subarray(0, this.count)
  }
}

const HEADER_END = Buffer.from("\r\n\r\n")
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i

const encode = (host: string, request: OpenLoopRequest): Buffer => {
  const body = Buffer.from(request.body)
  const head = [`POST ${request.path} HTTP/1.1`, `host: ${host}`, "connection: keep-alive"]
  for (const [name, value] of Object.entries(request.headers)) head.push(`${name}: ${value}`)
  head.push(`content-length: ${body.length}`)
  return Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`), body])
}

interface Connection {
  socket: Socket
  /** Requests due on this connection and not yet sent: their indexes. */
  readonly waiting: Array<number>
  /** The request in flight, if any: its index and when it was sent. */
  inFlight: { readonly index: number; readonly sentAt: number } | undefined
  received: Buffer
  timer: NodeJS.Timeout | undefined
}

export const openLoop = (options: OpenLoopOptions): Promise<OpenLoopResult> =>
  new Promise((resolve, reject) => {
    const host = `127.0.0.1:${options.port}`
    const latencies = new Samples()
    const fromSend = new Samples()
    const sendLag = new Samples()
    const statuses = new Map<number, number>()
    const perSecond: Array<number> = []
    const dueAt = (index: number) => start + (index * 1000) / options.rate
    const total = Math.round(options.rate * options.seconds)
    let errors = 0
    let timeouts = 0
    let settled = 0
    let next = 0
    let start = 0
    let finished = false
    const cpuBefore = process.cpuUsage()

    const finish = () => {
      if (finished) return
      finished = true
      for (const connection of connections) {
        clearTimeout(connection.timer)
        connection.socket.destroy()
      }
      const cpu = process.cpuUsage(cpuBefore)
      const wallMs = performance.now() - start
      resolve({
        latencies: latencies.array,
        fromSend: fromSend.array,
        sendLag: sendLag.array,
        statuses,
        perSecond,
        errors,
        timeouts,
        seconds: options.seconds,
        loadgenCpu: (cpu.user + cpu.system) / (wallMs * 1000)
      })
    }

    const settle = () => {
      settled++
      if (settled === total) finish()
    }

    const send = (connection: Connection) => {
      const index = connection.waiting.shift()
      if (index === undefined) return
      const now = performance.now()
      sendLag.push(now - dueAt(index))
      connection.inFlight = { index, sentAt: now }
      connection.timer = setTimeout(() => onTimeout(connection), options.timeoutSeconds * 1000)
      connection.socket.write(encode(host, options.request(index)))
    }

    const onTimeout = (connection: Connection) => {
      timeouts++
      errors++
      connection.inFlight = undefined
      replace(connection)
      settle()
    }

    /** A broken or timed-out connection: a new socket in its place, which sends what was waiting on it. */
    const replace = (connection: Connection) => {
      clearTimeout(connection.timer)
      connection.socket.removeAllListeners()
      connection.socket.on("error", () => {})
      connection.socket.destroy()
      connection.received = Buffer.alloc(0)
      if (connection.inFlight !== undefined) {
        errors++
        connection.inFlight = undefined
        settle()
      }
      if (!finished) open(connection)
    }

    const onData = (connection: Connection, chunk: Buffer) => {
      connection.received = connection.received.length === 0 ? chunk : Buffer.concat([connection.received, chunk])
      for (;;) {
        const headerEnd = connection.received.indexOf(HEADER_END)
        if (headerEnd < 0) return
        const head = connection.received.toString("latin1", 0, headerEnd)
        const length = CONTENT_LENGTH.exec(head)
        // Every answer of both servers has a content-length: anything else is a broken exchange.
        if (length === null || connection.inFlight === undefined) return replace(connection)
        const end = headerEnd + HEADER_END.length + Number(length[1])
        if (connection.received.length < end) return
        const now = performance.now()
        const status = Number(head.slice(9, 12))
        const body = connection.received.toString("utf8", headerEnd + HEADER_END.length, end)
        connection.received = connection.received.subarray(end)
        const { index, sentAt } = connection.inFlight
        connection.inFlight = undefined
        clearTimeout(connection.timer)
        latencies.push(now - dueAt(index))
        fromSend.push(now - sentAt)
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
        const second = Math.floor((now - start) / 1000)
        perSecond[second] = (perSecond[second] ?? 0) + 1
        options.onResponse(status, body)
        settle()
        send(connection)
      }
    }

    const open = (connection: Connection) => {
      const socket = connect(options.port, "127.0.0.1")
      socket.setNoDelay(true)
      connection.socket = socket
      socket.on("data", (chunk: Buffer) => onData(connection, chunk))
      socket.on("error", () => replace(connection))
      socket.on("close", () => {
        if (connection.socket === socket && !finished) replace(connection)
      })
      socket.once("connect", () => {
        if (connection.inFlight === undefined) send(connection)
      })
    }

    const connections: Array<Connection> = Array.from({ length: options.connections }, () => ({
      socket: undefined as unknown as Socket,
      waiting: [],
      inFlight: undefined,
      received: Buffer.alloc(0),
      timer: undefined
    }))

    // Every connection is open before the first request is due, so that connecting is not measured.
    let connected = 0
    for (const connection of connections) {
      open(connection)
      connection.socket.once("connect", () => {
        connected++
        if (connected === connections.length) begin()
      })
      connection.socket.once("error", (error) => {
        // A server that cannot be reached before the first request is due: the run stops, nothing reconnects.
        if (start !== 0 || finished) return
        finished = true
        for (const other of connections) other.socket.destroy()
        reject(error)
      })
    }

    const tick = () => {
      if (finished) return
      const now = performance.now()
      while (next < total && dueAt(next) <= now) {
        const connection = connections[next % connections.length]!
        connection.waiting.push(next++)
        if (connection.inFlight === undefined && connection.socket.readyState === "open") send(connection)
      }
      if (next < total) setTimeout(tick, Math.max(0, dueAt(next) - performance.now()))
    }

    const begin = () => {
      start = performance.now()
      tick()
    }
  })

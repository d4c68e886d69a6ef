// A server-sent events client for tests: node's fetch reading the response body as it arrives, parsed as the
// EventSource specification reads it (id, event, data, comments), with waits for what a test expects next.
import { Effect } from "effect"

export interface StreamedEvent {
  readonly id: string | undefined
  readonly event: string
  readonly data: Record<string, unknown>
}

export interface EventStreamConnection {
  readonly status: number
  readonly headers: Headers
  /** The body as text when the response is not a stream (an error), else "". */
  readonly text: string
  /** Every event received so far, in order. */
  readonly events: ReadonlyArray<StreamedEvent>
  /** Every comment line received so far (without its colon). */
  readonly comments: ReadonlyArray<string>
  /** Resolves once `predicate` holds over what was received, or rejects after `timeoutMillis`. */
  readonly until: (predicate: (connection: EventStreamConnection) => boolean, timeoutMillis?: number) => Promise<void>
  readonly close: () => void
}

const parseFrame = (frame: string, connection: { events: Array<StreamedEvent>; comments: Array<string> }) => {
  let id: string | undefined
  let event = "message"
  const data: Array<string> = []
  for (const line of frame.split("\n")) {
    if (line.startsWith(":")) connection.comments.push(line.slice(1).trim())
    else if (line.startsWith("id: ")) id = line.slice(4)
    else if (line.startsWith("event: ")) event = line.slice(7)
    else if (line.startsWith("data: ")) data.push(line.slice(6))
  }
  if (data.length > 0) {
    connection.events.push({ id, event, data: JSON.parse(data.join("\n")) as Record<string, unknown> })
  }
}

export const openEventStream = async (url: string, headers: Record<string, string> = {}) => {
  const abort = new AbortController()
  const response = await fetch(url, { headers, signal: abort.signal })
  const events: Array<StreamedEvent> = []
  const comments: Array<string> = []
  const listeners = new Set<() => void>()
  const isStream = response.ok && (response.headers.get("content-type") ?? "").startsWith("text/event-stream")
  const text = isStream ? "" : await response.text()
  const connection: EventStreamConnection = {
    status: response.status,
    headers: response.headers,
    text,
    events,
    comments,
    until: (predicate, timeoutMillis = 5000) =>
      new Promise<void>((resolve, reject) => {
        if (predicate(connection)) return resolve()
        const check = () => {
          if (!predicate(connection)) return
          listeners.delete(check)
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(() => {
          listeners.delete(check)
          reject(new Error(`timed out; received ${JSON.stringify(events)}`))
        }, timeoutMillis)
        listeners.add(check)
      }),
    close: () => abort.abort()
  }
  if (isStream && response.body !== null) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    void (async () => {
      let buffer = ""
      try {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) return
          buffer += value
          let end = buffer.indexOf("\n\n")
          while (end >= 0) {
            parseFrame(buffer.slice(0, end), { events, comments })
            buffer = buffer.slice(end + 2)
            end = buffer.indexOf("\n\n")
          }
          for (const listener of [...listeners]) listener()
        }
      } catch {
        // aborted by close()
      }
    })()
  }
  return connection
}

/** `openEventStream` for the life of the scope. */
export const eventStream = (url: string, headers: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => openEventStream(url, headers)),
    (connection) => Effect.sync(() => connection.close())
  )

/** Waits for `predicate`, as an Effect. */
export const awaitEvents = (
  connection: EventStreamConnection,
  predicate: (connection: EventStreamConnection) => boolean,
  timeoutMillis?: number
) => Effect.promise(() => connection.until(predicate, timeoutMillis))

export const exportEvents = (connection: EventStreamConnection, jobId: string) =>
  connection.events.filter((event) => event.event === "export" && event.data["jobId"] === jobId)

/**
 * The statuses an export's events went through, in order. An attempt that runs a second or more sends its progress
 * as more "running" events, so how many there are depends on the machine's speed; each status counts once.
 */
export const statusesOf = (connection: EventStreamConnection, jobId: string) =>
  exportEvents(connection, jobId).map((event) => event.data["status"]).filter((status, at, all) =>
    at === 0 || status !== all[at - 1]
  )

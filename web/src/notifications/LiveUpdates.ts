// Keeps the exports and notifications current while someone is signed in (ADR 39). First choice, the event stream
// (ADR 33): a single-use ticket, then `EventSource` on its URL. A stream that breaks is reopened with a new ticket
// and `lastEventId`, so it resumes where it was. Where the server has no stream (501 on Lambda) or while it cannot
// be opened, the app polls the list and the notifications with If-None-Match (ConditionalFetch), every few seconds.
import { callApi } from "../api/ApiClient.ts"
import { problemOf } from "../api/ApiProblem.ts"
import { decodeExportEvent } from "../exports/ExportEvent.ts"
import { applyExportEvent, refreshExports } from "../exports/ExportsStore.ts"
import { createStore } from "../lib/Store.ts"
import { refreshNotifications } from "./NotificationsStore.ts"

export type LiveMode = "connecting" | "streaming" | "polling"

export const liveMode = createStore<LiveMode>("connecting")

const POLL_EVERY_MS = 4_000
/** Waits before reopening a broken stream: short at first, then longer while it keeps failing. */
const RECONNECT_DELAYS_MS = [1_000, 2_000, 5_000, 10_000, 30_000]

const quietly = (promise: Promise<unknown>): void => {
  promise.catch(() => {
    // Shown nowhere: the next event or poll tells again, and a 401 has already ended the session.
  })
}

const refreshAll = () => {
  quietly(refreshExports())
  quietly(refreshNotifications())
}

/** Starts following the signed-in user's exports and notices; the function returned stops it. */
export const startLiveUpdates = (): () => void => {
  let stopped = false
  let source: EventSource | undefined
  let lastEventId: string | undefined
  let failures = 0
  let pollTimer: ReturnType<typeof setInterval> | undefined
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined

  const startPolling = () => {
    liveMode.set("polling")
    if (pollTimer === undefined) pollTimer = setInterval(refreshAll, POLL_EVERY_MS)
  }
  const stopPolling = () => {
    if (pollTimer !== undefined) clearInterval(pollTimer)
    pollTimer = undefined
  }

  const scheduleReconnect = () => {
    const delay = RECONNECT_DELAYS_MS[Math.min(failures, RECONNECT_DELAYS_MS.length - 1)]!
    failures++
    reconnectTimer = setTimeout(connect, delay)
  }

  const remember = (event: MessageEvent<unknown>) => {
    if (event.lastEventId !== "") lastEventId = event.lastEventId
  }

  const open = (streamUrl: string) => {
    const url = lastEventId === undefined
      ? streamUrl
      : `${streamUrl}${streamUrl.includes("?") ? "&" : "?"}lastEventId=${encodeURIComponent(lastEventId)}`
    const opened = new EventSource(url)
    source = opened
    opened.onopen = () => {
      failures = 0
      stopPolling()
      liveMode.set("streaming")
      // What happened while the stream was down, with bodies the events do not carry.
      refreshAll()
    }
    opened.addEventListener("export", (event) => {
      remember(event)
      const decoded = decodeExportEvent(event.data)
      if (decoded._tag === "Some") applyExportEvent(decoded.value)
    })
    opened.addEventListener("notification", (event) => {
      remember(event)
      quietly(refreshNotifications())
    })
    // EventSource would retry with the same URL, whose ticket is spent: close it and open a new one.
    opened.onerror = () => {
      opened.close()
      if (stopped) return
      startPolling()
      scheduleReconnect()
    }
  }

  const connect = () => {
    if (stopped) return
    callApi((api) => api.events.createStreamTicket()).then(
      (ticket) => {
        if (!stopped) open(ticket.streamUrl)
      },
      (error: unknown) => {
        if (stopped) return
        startPolling()
        // No stream on this server: polling it is, for good.
        if (problemOf(error).code !== "events_unavailable") scheduleReconnect()
      }
    )
  }

  refreshAll()
  connect()
  return () => {
    stopped = true
    source?.close()
    stopPolling()
    if (reconnectTimer !== undefined) clearTimeout(reconnectTimer)
    liveMode.set("connecting")
  }
}

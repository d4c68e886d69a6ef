// Conditional GETs for the reads a client polls (ADR 32): the last ETag of each answer goes out as If-None-Match,
// and a 304 is answered from the body held for it, so the typed client decodes it as the 200 it stands for. Keyed
// by URL and Authorization, so that another user's answer is never replayed.

interface Held {
  readonly etag: string
  readonly body: string
  readonly contentType: string
}

/** The most answers held: one per polled URL (the list, the notifications, a few exports) is all it takes. */
const MAX_HELD = 50

export const conditionalFetch = (fetch: typeof globalThis.fetch): typeof globalThis.fetch => {
  const held = new Map<string, Held>()
  return async (input, init) => {
    const method = (init?.method ?? "GET").toUpperCase()
    const url = input instanceof Request ? input.url : String(input)
    if (method !== "GET" || input instanceof Request) return fetch(input, init)
    const headers = new Headers(init?.headers)
    const key = `${url}\n${headers.get("authorization") ?? ""}`
    const before = held.get(key)
    // A request that carries If-None-Match bypasses the browser's own cache: the 304 reaches us.
    if (before !== undefined) headers.set("if-none-match", before.etag)
    const response = await fetch(url, { ...init, headers })
    if (response.status === 304 && before !== undefined) {
      return new Response(before.body, {
        status: 200,
        headers: { "content-type": before.contentType, etag: before.etag }
      })
    }
    const etag = response.headers.get("etag")
    if (response.status === 200 && etag !== null) {
      held.delete(key)
      if (held.size >= MAX_HELD) held.delete(held.keys().next().value!)
      held.set(key, {
        etag,
        body: await response.clone().text(),
        contentType: response.headers.get("content-type") ?? "application/json"
      })
    }
    return response
  }
}

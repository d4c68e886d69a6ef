// The Host header values a route answers, for the routes a browser can reach without credentials (signed file
// links, development pages): a page on evil.example whose name is rebound to 127.0.0.1 still sends its own name.
import { HttpServerRequest } from "@effect/platform"
import type { HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { currentErrorResponse } from "./ApiErrors.js"

/** Canonical `name:port` pairs: lower-case names, IPv6 addresses in brackets, ports as decimal numbers. */
export interface AllowedHosts {
  readonly pairs: ReadonlySet<string>
}

/** The names a browser on this machine uses for the server itself. */
export const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"] as const

// Addresses that mean "every interface": no client ever names the server by one of them.
const WILDCARDS: ReadonlySet<string> = new Set(["", "0.0.0.0", "::", "[::]"])

// A name or an IPv4 address, or an IPv6 address in brackets, then an optional port: nothing else (no user info,
// no path, no spaces) is a Host header we answer.
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::([0-9]{1,5}))?$/

const bracketed = (address: string): string =>
  address.includes(":") && !address.startsWith("[") ? `[${address}]` : address

const pair = (name: string, port: number | string): string => `${name}:${Number(port)}`

/** Whether a listen address reaches this machine only: `localhost`, 127.0.0.0/8 or ::1. */
export const isLoopbackAddress = (address: string): boolean => {
  const name = address.trim().toLowerCase()
  return name === "localhost" || name === "::1" || name === "[::1]" || /^127(?:\.[0-9]{1,3}){3}$/.test(name)
}

export interface AllowedHostsOptions {
  /** The address the server listens on (HOST). */
  readonly bindHost: string
  /** The port it listens on (PORT). */
  readonly port: number
  /** The address users are given (PUBLIC_BASE_URL), when the route is for them too. */
  readonly publicBaseUrl?: string
}

/**
 * The loopback names with the server's port, the listen address when it names one interface, and the public
 * address's host when one is given.
 */
export const allowedHosts = (options: AllowedHostsOptions): AllowedHosts => {
  const pairs = new Set(LOOPBACK_NAMES.map((name) => pair(name, options.port)))
  const bind = options.bindHost.trim().toLowerCase()
  if (!WILDCARDS.has(bind)) pairs.add(pair(bracketed(bind), options.port))
  if (options.publicBaseUrl !== undefined) {
    const url = new URL(options.publicBaseUrl)
    pairs.add(pair(url.hostname.toLowerCase(), url.port !== "" ? url.port : url.protocol === "https:" ? 443 : 80))
  }
  return { pairs }
}

/**
 * Whether a request's Host header names the server. A header without a port stands for 80 or 443: which one the
 * client used is not known here when a TLS proxy is in front.
 */
export const hostAllowed = (hosts: AllowedHosts, header: string | undefined): boolean => {
  const match = header === undefined ? null : HOST_HEADER.exec(header.toLowerCase())
  if (match === null) return false
  const [, name, port] = match
  return port === undefined
    ? hosts.pairs.has(pair(name!, 80)) || hosts.pairs.has(pair(name!, 443))
    : hosts.pairs.has(pair(name!, port))
}

// The answer names no host: the header is unverified input and is not echoed back.
export const MISDIRECTED_MESSAGE =
  "This path is served only under the server's own names: 127.0.0.1, localhost or [::1] " +
  "with its port, or its configured address."

/** Runs `handler` for a request whose Host is allowed; answers 421 Misdirected Request in the API's shape else. */
export const forAllowedHosts =
  (hosts: AllowedHosts) => <E, R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    Effect.flatMap(
      HttpServerRequest.HttpServerRequest,
      (request): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
        hostAllowed(hosts, request.headers["host"])
          ? handler
          : currentErrorResponse(421, "misdirected_request", MISDIRECTED_MESSAGE)
    )

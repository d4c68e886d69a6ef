// What the chdb engine's thread (ChdbThread.ts) and ChdbEngine say to each other: one request, one reply, matched
// by id. Types only: the thread runs this file's shapes without a build step, so nothing here may need one.
import type { ChdbParameters } from "./ChdbEngine.js"

export interface ThreadStart {
  readonly dataDir: string
  /** Engine arguments of the engine's own session. */
  readonly connectionArgs: ReadonlyArray<string>
}

export type ThreadRequest =
  | { readonly op: "execute"; readonly sql: string; readonly parameters: ChdbParameters }
  | { readonly op: "query"; readonly sql: string; readonly parameters: ChdbParameters }
  | {
    readonly op: "insert"
    readonly table: string
    readonly columns: ReadonlyArray<string>
    /** JSONCompactEachRow lines, transferred. */
    readonly values: Uint8Array
  }
  | {
    readonly op: "streamOpen"
    readonly stream: number
    readonly sql: string
    readonly parameters: ChdbParameters
    readonly format: string
    readonly connectionArgs: ReadonlyArray<string>
    /** The query's log_comment, for KILL QUERY. */
    readonly tag: string
  }
  | {
    readonly op: "run"
    readonly sql: string
    readonly parameters: ChdbParameters
    readonly connectionArgs: ReadonlyArray<string>
    /** The statement's log_comment, for KILL QUERY. */
    readonly tag: string
  }
  | { readonly op: "kill"; readonly tag: string }
  | { readonly op: "streamNext"; readonly stream: number }
  | { readonly op: "streamClose"; readonly stream: number }
  | { readonly op: "close" }

/** What each request answers with. */
export interface ThreadValues {
  readonly execute: null
  readonly query: string
  readonly insert: number
  readonly streamOpen: null
  readonly run: null
  /** Why the statement could not be killed, when it could not. */
  readonly kill: string | null
  /** A block of the result, transferred, or null once the result has ended. */
  readonly streamNext: Uint8Array | null
  /** Why a running query could not be killed, when it could not. */
  readonly streamClose: string | null
  readonly close: null
}

/** An engine error's properties, as `chdbErrorFrom` reads them. */
export interface ThreadFailure {
  readonly message: string
  readonly code: string | undefined
  readonly clickhouseCode: number | undefined
  readonly cause: { readonly message: string } | undefined
}

/** Id 0 answers the engine's opening, before any request. */
export type ThreadReply =
  | { readonly id: number; readonly ok: true; readonly value: ThreadValues[keyof ThreadValues] }
  | { readonly id: number; readonly ok: false; readonly failure: ThreadFailure }

export type Request = ThreadRequest & { readonly id: number }

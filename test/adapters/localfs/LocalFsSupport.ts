// A local file store in a fresh directory under the system's temp folder, removed with the layer.
import { Effect, Layer, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as NodePath from "node:path"
import * as LocalFileStore from "../../../src/adapters/localfs/LocalFileStore.js"

export const PUBLIC_BASE_URL = "http://127.0.0.1:3000"
export const SECRET = Redacted.make("test-secret-of-at-least-thirty-two-bytes")

/** A directory that lives as long as the scope. */
export const temporaryDirectory = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(NodePath.join(tmpdir(), prefix))),
    (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
  )

export const localFileStoreInTempDir = () =>
  Layer.unwrapScoped(
    Effect.map(
      temporaryDirectory("localfs-"),
      (root) => LocalFileStore.layer({ root, publicBaseUrl: PUBLIC_BASE_URL, secret: SECRET })
    )
  )

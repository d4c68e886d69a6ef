// The rewrite the Lambda bundles read the project's barrel imports through (ADR 42): each name becomes the import of
// its own module, which esbuild can shake, and nothing else of a source changes.
import { describe, expect, it } from "@effect/vitest"
import { subpathImports } from "../../../scripts/LambdaBundle.js"

describe("subpathImports", () => {
  it("imports each module of effect's, @effect/platform's and @effect/platform-node's barrels by its subpath", () => {
    const source = [
      "import { Effect, Schema as S, pipe, type Layer } from \"effect\"",
      "import {",
      "  HttpApiBuilder,",
      "  HttpServerResponse",
      "} from \"@effect/platform\"",
      "import { NodeStream } from \"@effect/platform-node\"",
      "const x = 1"
    ].join("\n")
    expect(subpathImports(source)).toBe([
      "import * as Effect from \"effect/Effect\"",
      "import * as S from \"effect/Schema\"",
      "import { pipe } from \"effect/Function\"",
      "import * as HttpApiBuilder from \"@effect/platform/HttpApiBuilder\"",
      "import * as HttpServerResponse from \"@effect/platform/HttpServerResponse\"",
      "import * as NodeStream from \"@effect/platform-node/NodeStream\"",
      "const x = 1"
    ].join("\n"))
  })

  it("leaves type-only imports, subpath imports and other packages as they are", () => {
    const source = [
      "import type { HttpApiGroup } from \"@effect/platform\"",
      "import * as Stream from \"effect/Stream\"",
      "import { build } from \"esbuild\"",
      "import { Effect } from \"effect-extra\""
    ].join("\n")
    expect(subpathImports(source)).toBe(source)
  })
})

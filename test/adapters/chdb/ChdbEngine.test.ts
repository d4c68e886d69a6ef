// The engine under the chdb adapters: one data directory per process, parameters bound by the engine, settings
// scoped to the query that asked for them.
import { assert, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import { ChdbEngine } from "../../../src/adapters/chdb/ChdbEngine.js"
import { freshEngine, tempDataDir } from "./ChdbTestSupport.js"

const streamed = (sql: string, parameters: Record<string, string | number | bigint> = {}, settings = {}) =>
  Effect.flatMap(ChdbEngine, (engine) => Stream.runCollect(engine.stream(sql, parameters, { settings }))).pipe(
    Effect.map(Chunk.toReadonlyArray)
  )

describe("ChdbEngine", () => {
  it.effect("holds one data directory per process: another opens only once the first engine is released", () =>
    Effect.gen(function*() {
      const first = yield* tempDataDir
      const second = yield* tempDataDir
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(ChdbEngine.Default(first))
        const refused = yield* Effect.flip(Layer.build(ChdbEngine.Default(second)))
        expect(refused.operation).toBe("open")
        expect(refused.kind).toBe("CHDB_CONNECTION")
        // Engines on the same directory share it.
        const again = yield* Layer.build(ChdbEngine.Default(first))
        expect(yield* Effect.flatMap(ChdbEngine, (engine) => engine.query("SELECT 1")).pipe(Effect.provide(again)))
          .toEqual([[1]])
      }))
      const engine = yield* Layer.build(ChdbEngine.Default(second))
      expect(yield* Effect.flatMap(ChdbEngine, (e) => Effect.succeed(e.dataDir)).pipe(Effect.provide(engine)))
        .toBe(second)
    }).pipe(Effect.scoped))

  it.effect("binds parameters in the engine: a value is never read as SQL", () =>
    Effect.gen(function*() {
      const text = "it's \\ \"quoted\"\n'); DROP TABLE order_lines; --"
      const rows = yield* streamed("SELECT {text:String}, {big:UInt64}", { text, big: 2n ** 60n })
      // 64-bit integers come quoted, so that none is rounded on the way.
      expect(rows).toEqual([[text, "1152921504606846976"]])
    }).pipe(Effect.provide(freshEngine())))

  it.effect("applies a stream's settings to its own query only", () =>
    Effect.gen(function*() {
      const engine = yield* ChdbEngine
      expect(yield* streamed("SELECT getSetting('max_execution_time')", {}, { max_execution_time: 12.5 }))
        .toEqual([[12.5]])
      expect(yield* engine.query("SELECT getSetting('max_execution_time')")).toEqual([[0]])
    }).pipe(Effect.provide(freshEngine())))

  it.effect("hands on each block in a buffer of its own that nothing writes over afterwards (ADR 53's reader)", () =>
    Effect.gen(function*() {
      const engine = yield* ChdbEngine
      // The CSV reader hands on views of the blocks as they came (ChdbReportSource): a block written over once handed
      // on would change the file. Each block is held, with a copy taken as it arrived, to the end of the stream.
      const blocks = Chunk.toReadonlyArray(
        yield* Stream.runCollect(
          engine.streamBytes("SELECT number, repeat('x', number % 50) FROM numbers(100000)", {}, "CSV", {
            settings: { max_block_size: 1000 }
          }).pipe(Stream.map((block) => ({ block, asItCame: block.slice() })))
        )
      )
      expect(blocks.length).toBeGreaterThan(10)
      for (const { asItCame, block } of blocks) expect(Buffer.from(block).equals(asItCame)).toBe(true)
      // Each block is the whole of an ArrayBuffer that no other block shares: no pool, no view of one.
      expect(new Set(blocks.map(({ block }) => block.buffer)).size).toBe(blocks.length)
      for (const { block } of blocks) expect([block.byteOffset, block.byteLength]).toEqual([0, block.buffer.byteLength])
    }).pipe(Effect.provide(freshEngine())))

  it.effect("refuses a setting name that is not a plain identifier", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(streamed("SELECT 1", {}, { "max_threads=1 --path": 1 }))
      assert(error._tag === "ChdbError")
      expect(error.message).toContain("invalid setting name")
    }).pipe(Effect.provide(freshEngine())))

  it.effect("reports a failing statement with ClickHouse's code", () =>
    Effect.gen(function*() {
      const engine = yield* ChdbEngine
      const error = yield* Effect.flip(engine.execute("SELEC 1"))
      expect(error.operation).toBe("execute")
      expect(error.clickhouseCode).toBe(62)
    }).pipe(Effect.provide(freshEngine())))

  it.effect("a result that is no JSON fails with its size and where, never its text", () =>
    Effect.gen(function*() {
      const engine = yield* ChdbEngine
      const secret = "tenant-secret-4711"
      // TSV rather than JSON: the first two lines pass for rows ("0", "1"), the third is the tenant's text.
      const sql = `SELECT if(number < 2, toString(number), '${secret}') FROM numbers(3) FORMAT TSV`
      for (const error of [yield* Effect.flip(streamed(sql)), yield* Effect.flip(engine.query(sql))]) {
        expect(error.message).not.toContain(secret)
        expect(String(error)).not.toContain(secret)
        expect(error.message).toBe(
          `a line that is no JSON row at byte 4 of a block of ${4 + secret.length + 1} bytes, after 2 rows`
        )
      }
    }).pipe(Effect.provide(freshEngine())))
})

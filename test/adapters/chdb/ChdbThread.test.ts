// The engine's own thread (ADR 44): what crosses between it and the server's thread, and how it ends.
import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Schedule, Scope, Stream } from "effect"
import { ChdbEngine, ChdbError } from "../../../src/adapters/chdb/ChdbEngine.js"
import { freshEngine, runningQueries, tempDataDir } from "./ChdbTestSupport.js"

// Minutes of work, and no row until the end: the fetch of the first block is what runs when it is stopped.
const SLOW_AGGREGATE = "SELECT count() FROM numbers(1000000000000) WHERE sipHash64(number) % 3 = 0"

const slowStream = (label: string) =>
  Effect.flatMap(ChdbEngine, (engine) => Stream.runDrain(engine.stream(SLOW_AGGREGATE, {}, { label })))

const untilRunning = (label: string, count: number) =>
  runningQueries(label).pipe(
    Effect.repeat({ until: (running) => running === count, schedule: Schedule.spaced(Duration.millis(20)) }),
    Effect.timeout(Duration.seconds(10))
  )

describe("ChdbEngine's thread", () => {
  it.effect("a query that fails in the thread fails here as the same tagged error, with ClickHouse's code", () =>
    Effect.gen(function*() {
      const engine = yield* ChdbEngine
      const error = yield* Effect.flip(
        Stream.runDrain(engine.stream("SELECT throwIf(number = 3, 'no three') FROM numbers(10)", {}))
      )
      expect(error).toBeInstanceOf(ChdbError)
      expect(error.operation).toBe("stream")
      // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
      expect(error.clickhouseCode).toBe(395)
      expect(error.message).toContain("no three")
    }).pipe(Effect.provide(freshEngine())))

  it.live("interrupting a stream kills its query in the thread, and the engine goes on serving", () =>
    Effect.gen(function*() {
      const engine = yield* ChdbEngine
      const fiber = yield* Effect.fork(slowStream("interrupted"))
      yield* untilRunning("interrupted", 1)
      yield* Fiber.interrupt(fiber)
      // Left alone, the query would run for minutes.
      yield* untilRunning("interrupted", 0).pipe(Effect.timeout(Duration.seconds(5)))
      expect(yield* engine.query("SELECT 1")).toEqual([[1]])
    }).pipe(Effect.provide(freshEngine())))

  it.live("the thread ends, cleanly, when the engine's scope closes; the engine then refuses work", () =>
    Effect.gen(function*() {
      const dir = yield* tempDataDir
      const scope = yield* Scope.make()
      const engine = yield* Effect.provide(ChdbEngine, yield* Layer.buildWithScope(ChdbEngine.Default(dir), scope))
      expect(yield* engine.query("SELECT 1")).toEqual([[1]])
      yield* Scope.close(scope, Exit.void)
      const error = yield* Effect.flip(engine.query("SELECT 1"))
      expect(error.operation).toBe("thread")
      // 0: it returned by itself, after closing the engine; a terminated thread ends with 1.
      expect(error.message).toBe("the chdb engine's thread has ended (exit code 0)")
    }).pipe(Effect.scoped))

  it.live("closing the engine under a running query stops the query and the thread, without waiting for it", () =>
    Effect.gen(function*() {
      const first = yield* tempDataDir
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(ChdbEngine.Default(first), scope)
      const reader = yield* Effect.forkDaemon(Effect.provide(slowStream("running at close"), context))
      yield* Effect.provide(untilRunning("running at close", 1), context)
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      // Within the engine's close grace (5 s), the query killed: a server that stops must not hang on it.
      expect(Date.now() - started).toBeLessThan(4_000)
      const error = yield* Fiber.join(reader).pipe(Effect.flip)
      assert(error._tag === "ChdbError")
      // The native work is drained: another data directory opens in this process.
      const second = yield* tempDataDir
      const engine = yield* Effect.provide(ChdbEngine, yield* Layer.build(ChdbEngine.Default(second)))
      expect(engine.dataDir).toBe(second)
    }).pipe(Effect.scoped))
})

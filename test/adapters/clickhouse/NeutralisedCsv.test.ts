// The SQL that neutralises formulas on a server writing the export's CSV itself (ADR 53), held to the domain's one
// rule: on ClickHouse 26.x (chdb), every text the property tests make, and every edge of the rule's character lists,
// comes out of the SQL exactly as `neutraliseFormula` makes it. And the server is asked once whether it can.
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, FastCheck, Layer } from "effect"
import { ChdbEngine } from "../../../src/adapters/chdb/ChdbEngine.js"
import { ClickHouseClient } from "../../../src/adapters/clickhouse/ClickHouseClient.js"
import { writesExportCsv } from "../../../src/adapters/clickhouse/ClickHouseStream.js"
import { neutralisedText } from "../../../src/adapters/clickhouse/NeutralisedCsv.js"
import { FORMULA_TRIGGERS, LOOKED_PAST, neutraliseFormula } from "../../../src/domain/Csv.js"
import { CSV_HOSTILE_CHARACTERS, INVISIBLE, TRIGGERS } from "../../support/CsvText.js"
import { freshEngine } from "../chdb/ChdbTestSupport.js"
import { chdbClient } from "./ClickHouseTestSupport.js"

/** Each text through the SQL, on the engine: what it makes of each, in the texts' order. */
const neutralisedInSql = (texts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const engine = yield* ChdbEngine
    // As hex, both ways: no character of the texts goes through SQL's or the result format's escaping.
    const literals = texts.map((text) => `unhex('${Buffer.from(text, "utf8").toString("hex")}')`).join(", ")
    const rows = yield* engine.query(
      `SELECT i, hex(${neutralisedText("t")}) FROM (SELECT arrayJoin(arrayEnumerate(texts)) AS i, texts[i] AS t ` +
        `FROM (SELECT [${literals}] AS texts)) ORDER BY i`
    )
    return rows.map(([, hex]) => Buffer.from(String(hex), "hex").toString("utf8"))
  })

const expectSameAsTheRule = (texts: ReadonlyArray<string>) =>
  Effect.map(neutralisedInSql(texts), (sql) => {
    const differing = texts.flatMap((text, i) =>
      sql[i] === neutraliseFormula(text) ? [] : [{ text, sql: sql[i], rule: neutraliseFormula(text) }]
    )
    expect(differing).toEqual([])
  })

/** Every code point at an edge of the rule's lists: each end of each range, and its neighbours. */
const EDGES: ReadonlyArray<string> = [
  ...new Set([
    ...LOOKED_PAST.flatMap(([from, to]) => [from - 1, from, from + 1, to - 1, to, to + 1]),
    ...FORMULA_TRIGGERS.flatMap((c) => [c - 1, c, c + 1])
  ])
].filter((c) => c >= 0 && (c < 0xd800 || c > 0xdfff)).map((c) => String.fromCodePoint(c))

const NUMBERS = [
  "-12.5",
  "+3e5",
  ".5",
  "1.",
  "-1",
  "+1.5e-3",
  "-1e",
  "-1e+",
  "-.",
  "-",
  "+",
  "- 1",
  "-1 ",
  "1-",
  "-1-",
  "-0x1",
  "--1",
  "-1.2.3",
  "-e5",
  "+.e1",
  "-1E5",
  "-１"
]

const unit = FastCheck.constantFrom(...CSV_HOSTILE_CHARACTERS, ...EDGES, "1", "0", ".", "e", "E", "'", "x")
const texts = FastCheck.array(FastCheck.string({ unit, maxLength: 8 }), { minLength: 1, maxLength: 40 })

layer(chdbClient.pipe(Layer.provideMerge(freshEngine())), { timeout: Duration.seconds(60) })(
  "neutralisation in SQL, on chdb (ClickHouse 26.x)",
  (it) => {
    it.effect("agrees with neutraliseFormula at every edge of the rule: alone, before a trigger, behind a space", () =>
      expectSameAsTheRule([
        "",
        ...TRIGGERS,
        ...NUMBERS,
        ...NUMBERS.flatMap((n) => INVISIBLE.map((c) => c + n)),
        ...EDGES.flatMap((c) => [c, `${c}=`, `${c}-1`, ` ${c}`, `${c}${c}@x`, `"${c}=`, `😀${c}=`]),
        ...TRIGGERS.flatMap((t) => INVISIBLE.map((c) => `${c}${t}x`))
      ]))

    it.effect("agrees with neutraliseFormula on arbitrary texts of triggers, invisible characters and numbers", () =>
      Effect.gen(function*() {
        const engine = yield* ChdbEngine
        yield* Effect.promise(() =>
          FastCheck.assert(
            FastCheck.asyncProperty(
              texts,
              (batch) => Effect.runPromise(Effect.provideService(expectSameAsTheRule(batch), ChdbEngine, engine))
            ),
            { numRuns: 150 }
          )
        )
      }))

    it.effect("the server is asked once whether it writes the export's CSV: ClickHouse 26.x does", () =>
      Effect.map(Effect.flatMap(ClickHouseClient, writesExportCsv), (writes) => expect(writes).toBe(true)))
  }
)

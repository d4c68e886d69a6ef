import { describe, expect, it } from "@effect/vitest"
import { formatCents, localDateTime } from "../../../src/adapters/memory/MemoryReportSource.js"

describe("MemoryReportSource formats", () => {
  it.each([
    [0, "0"],
    [5, "0.05"],
    [50, "0.5"],
    [1250, "12.5"],
    [1205, "12.05"],
    [1200, "12"],
    [-5, "-0.05"],
    [-50, "-0.5"],
    [-1205, "-12.05"]
  ])("prints %i cents as ClickHouse prints a Decimal(18, 2): %s", (cents, text) => {
    expect(formatCents(cents)).toBe(text)
  })

  it("gives the local date and time in the report's time zone, across a DST change", () => {
    expect(localDateTime(Date.parse("2024-03-31T00:30:00Z"), "Europe/Paris")).toStrictEqual({
      date: "2024-03-31",
      time: "01:30:00"
    })
    expect(localDateTime(Date.parse("2024-03-31T01:30:00Z"), "Europe/Paris")).toStrictEqual({
      date: "2024-03-31",
      time: "03:30:00"
    })
    expect(localDateTime(Date.parse("2024-01-01T20:00:00Z"), "Asia/Kolkata")).toStrictEqual({
      date: "2024-01-02",
      time: "01:30:00"
    })
  })
})

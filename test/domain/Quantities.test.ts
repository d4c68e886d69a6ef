// The words an export's size is told in: one rule for the web app's list and the notices and e-mails.
import { describe, expect, it } from "vitest"
import { fileSize, rowCount } from "../../src/domain/Quantities.js"

describe("fileSize", () => {
  it("counts in thousands, as a download list does, with one decimal only below 10", () => {
    expect(fileSize(0)).toBe("0 bytes")
    expect(fileSize(999)).toBe("999 bytes")
    expect(fileSize(1000)).toBe("1.0 KB")
    expect(fileSize(366_182)).toBe("366 KB")
    expect(fileSize(3_145_728)).toBe("3.1 MB")
    expect(fileSize(52_000_000_000)).toBe("52 GB")
    expect(fileSize(7e15)).toBe("7000 TB")
  })
})

describe("rowCount", () => {
  it("groups the digits as English does, and says row for one", () => {
    expect(rowCount(1)).toBe("1 row")
    expect(rowCount(0)).toBe("0 rows")
    expect(rowCount(25_291)).toBe("25,291 rows")
    expect(rowCount(1_234_567)).toBe("1,234,567 rows")
  })
})

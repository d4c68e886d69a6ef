// How an export's size is put to a person, in the web app and in the notices and e-mails alike: the same file must
// read the same everywhere it is named ("366 KB" in the list, not "357.6 KB" in the e-mail).

const UNITS = ["bytes", "KB", "MB", "GB", "TB"] as const

/** Decimal units, as file managers and browsers' download lists show them: "1.2 MB", "366 KB", "512 bytes". */
export const fileSize = (bytes: number): string => {
  let unit = 0
  let value = bytes
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000
    unit++
  }
  // One decimal only where it says something: "1.2 MB", but "366 KB" rather than "365.9 KB".
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`
}

/**
 * "1 row", "25,291 rows", for messages that leave the app (the notices, the e-mails): they are written in English and
 * group digits as English does. No Intl object is kept at module level: the Lambda functions' startup snapshots
 * cannot hold one (ADR 52), and a message a job costs nothing to format afresh.
 */
export const rowCount = (rows: number): string => `${rows.toLocaleString("en-US")} ${rows === 1 ? "row" : "rows"}`

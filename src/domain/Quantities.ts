// How an export's size is put to a person, in the web app and in the notices and e-mails alike: the same file must
// read the same everywhere it is named ("366 KB" in the list, not "357.6 KB" in the e-mail).

const UNITS = ["bytes", "KB", "MB", "GB", "TB"] as const
const ENGLISH_NUMBERS = new Intl.NumberFormat("en-US")

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
 * "1 row", "25,291 rows". `numbers` groups the digits: the web app passes the reader's own locale, messages that
 * leave the app (the notices, the e-mails) are written in English and group as English does.
 */
export const rowCount = (rows: number, numbers: Intl.NumberFormat = ENGLISH_NUMBERS): string =>
  `${numbers.format(rows)} ${rows === 1 ? "row" : "rows"}`

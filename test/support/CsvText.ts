// Characters that break naive CSV writers and formula checks, for the CSV writer's and the server-CSV reader's
// property tests: both sides of the rule (ADR 6) are tried with the same ones.

/** A sample of the characters that show nothing (the class the rule skips before looking for a trigger). */
export const INVISIBLE = [
  "\0",
  "\x01",
  "\n",
  "\x0b",
  "\x1f",
  " ",
  "\x7f",
  "\x85",
  "\u00a0",
  "\u00ad",
  "\u2007",
  "\u200b",
  "\u200e",
  "\u202e",
  "\u2060",
  "\u3000",
  "\ufeff"
]
/** What starts a formula: the ASCII operators, their full-width forms, tab and carriage return. */
export const TRIGGERS = ["=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\t", "\r"]

/** Separators, quotes, line ends, triggers, invisible characters, and a few plain ones to keep them apart. */
export const CSV_HOSTILE_CHARACTERS = [
  "\"",
  ",",
  "\n",
  "\r",
  "\r\n",
  " ",
  ";",
  ...INVISIBLE,
  ...TRIGGERS,
  "é",
  "😀",
  "a",
  "1",
  ".",
  "e"
]

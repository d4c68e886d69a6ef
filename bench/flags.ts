// A benchmark's command line: the help text on --help, and whole-number flags checked against their range (a bad
// one stops the command with its name, the range and the usage).

/** Prints `usage` and exits when --help was given. */
export const answerHelp = (help: boolean, usage: string): void => {
  if (!help) return
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

/** A reader of integer flags from `min` to `max` that exits with 2, naming the flag, on any other value. */
export const integerFlags = (usage: string) => (name: string, value: string, min: number, max: number): number => {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be an integer from ${min} to ${max}\n${usage}\n`)
    process.exit(2)
  }
  return n
}

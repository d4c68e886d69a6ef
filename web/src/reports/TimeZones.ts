// The time zones a person can pick: the browser's IANA list, UTC first. The server checks the zone again.

const supported = (): ReadonlyArray<string> => {
  try {
    return Intl.supportedValuesOf("timeZone")
  } catch {
    return []
  }
}

export const TIME_ZONES: ReadonlyArray<string> = [...new Set(["UTC", ...supported()])]

/** The browser's own zone when the list has it: report days then start at the person's midnight. */
export const localTimeZone = (): string => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone
  return TIME_ZONES.includes(zone) ? zone : "UTC"
}

// A small reader of the .eml files the outbox holds, written apart from the adapter so that the tests check its
// output against MIME and RFC 2047 rather than against its own encoder.

export interface MimePart {
  /** Header fields by lower-case name, unfolded. */
  readonly headers: ReadonlyMap<string, string>
  /** The decoded body, as UTF-8 text. */
  readonly body: string
}

export interface ParsedEml {
  readonly headers: ReadonlyMap<string, string>
  readonly parts: ReadonlyArray<MimePart>
}

const CRLF = "\r\n"

const splitHead = (text: string): readonly [string, string] => {
  const end = text.indexOf(CRLF + CRLF)
  return end === -1 ? [text, ""] : [text.slice(0, end), text.slice(end + 4)]
}

const parseHeaders = (head: string): ReadonlyMap<string, string> => {
  const headers = new Map<string, string>()
  // Unfold (RFC 5322 2.2.3): a line break followed by whitespace continues the field.
  for (const line of head.replace(/\r\n(?=[ \t])/g, "").split(CRLF)) {
    const colon = line.indexOf(":")
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
  }
  return headers
}

const decodeBody = (headers: ReadonlyMap<string, string>, body: string): string => {
  const encoding = (headers.get("content-transfer-encoding") ?? "7bit").toLowerCase()
  if (encoding === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8")
  if (encoding === "7bit" || encoding === "8bit") return body
  throw new Error(`this reader does not decode ${encoding}`)
}

/** The parameter of a structured header value, e.g. `boundary` of a Content-Type. */
export const parameterOf = (value: string, name: string): string | undefined => {
  const match = new RegExp(`;\\s*${name}="?([^";]+)"?`, "i").exec(value)
  return match?.[1]
}

export const parseEml = (text: string): ParsedEml => {
  const [head, body] = splitHead(text)
  const headers = parseHeaders(head)
  const boundary = parameterOf(headers.get("content-type") ?? "", "boundary")
  if (boundary === undefined) return { headers, parts: [{ headers, body: decodeBody(headers, body) }] }
  const delimiter = `${CRLF}--${boundary}`
  // The body opens with a delimiter (after an optional preamble) and ends with the close delimiter.
  const [, ...sections] = (CRLF + body).split(delimiter)
  const parts = sections
    .filter((section) => !section.startsWith("--"))
    .map((section) => {
      const [partHead, partBody] = splitHead(section.replace(/^[ \t]*\r\n/, ""))
      const partHeaders = parseHeaders(partHead)
      return { headers: partHeaders, body: decodeBody(partHeaders, partBody) }
    })
  return { headers, parts }
}

/** RFC 2047: decodes the encoded-words of an unstructured header value (B and Q, UTF-8). */
export const decodeEncodedWords = (value: string): string =>
  value
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?([^?]+)\?([BQ])\?([^?]*)\?=/gi, (_, charset: string, encoding: string, encoded: string) => {
      if (charset.toLowerCase() !== "utf-8") throw new Error(`unexpected charset ${charset}`)
      const bytes = encoding.toUpperCase() === "B"
        ? Buffer.from(encoded, "base64")
        : Buffer.from(
          encoded.replace(/_/g, " ").replace(/=([0-9A-F]{2})/gi, (_m, hex: string) =>
            String.fromCharCode(parseInt(hex, 16))),
          "latin1"
        )
      return bytes.toString("utf8")
    })

/** The text of the one part of a given media type. */
export const partOf = (eml: ParsedEml, mediaType: string): MimePart | undefined =>
  eml.parts.find((part) => (part.headers.get("content-type") ?? "").toLowerCase().startsWith(mediaType))

/** Text in canonical form (CRLF) back to the LF line breaks it was written with. */
export const withLf = (text: string): string => text.replace(/\r\n/g, "\n")

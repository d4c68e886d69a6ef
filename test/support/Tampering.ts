// Signatures with their first character changed. Replacing it with a fixed character leaves one link in 64 untouched
// (base64url), and such a test then fails at random: the "tampered" link is the real one.
export const flipFirst = (text: string): string => (text.startsWith("A") ? "B" : "A") + text.slice(1)

/** The link with its `signature` query parameter's first character changed, everything else as it was. */
export const withTamperedSignature = (link: string): string =>
  link.replace(/([?&]signature=)([^&]*)/, (_, name: string, signature: string) => name + flipFirst(signature))

/** A JSON Web Token with its signature's first character changed: header and claims as signed, the signature not. */
export const withTamperedJwtSignature = (token: string): string => {
  const [header, claims, signature] = token.split(".")
  return `${header}.${claims}.${flipFirst(signature ?? "")}`
}

// Which Host headers the embedded server's file links and development pages answer: the loopback names and the
// listen address with its port, the public address when given, and nothing that merely resolves to this machine.
import { describe, expect, it } from "@effect/vitest"
import { allowedHosts, hostAllowed, isLoopbackAddress } from "../../../src/adapters/http/AllowedHosts.js"

const PORT = 3000

describe("allowedHosts", () => {
  it("answers the loopback names with the server's port, in any case", () => {
    const hosts = allowedHosts({ bindHost: "127.0.0.1", port: PORT })
    for (const header of ["127.0.0.1:3000", "localhost:3000", "[::1]:3000", "LocalHost:3000"]) {
      expect(hostAllowed(hosts, header), header).toBe(true)
    }
  })

  it("refuses other names, other ports, a missing Host and anything that is not a bare host and port", () => {
    const hosts = allowedHosts({ bindHost: "127.0.0.1", port: PORT })
    const refused = [
      undefined,
      "",
      "evil.example",
      "evil.example:3000",
      "localhost.evil.example:3000",
      "127.0.0.1.nip.io:3000",
      "127.0.0.1:3001",
      "localhost",
      "127.0.0.1",
      "user@127.0.0.1:3000",
      "127.0.0.1:3000/path",
      "127.0.0.1:3000 ",
      "[::1]:3000:3000",
      "0.0.0.0:3000"
    ]
    for (const header of refused) expect(hostAllowed(hosts, header), String(header)).toBe(false)
  })

  it("answers the listen address when it names one interface, never a wildcard", () => {
    expect(hostAllowed(allowedHosts({ bindHost: "192.168.1.10", port: PORT }), "192.168.1.10:3000")).toBe(true)
    expect(hostAllowed(allowedHosts({ bindHost: "fd00::5", port: PORT }), "[fd00::5]:3000")).toBe(true)
    expect(hostAllowed(allowedHosts({ bindHost: "0.0.0.0", port: PORT }), "0.0.0.0:3000")).toBe(false)
    expect(hostAllowed(allowedHosts({ bindHost: "::", port: PORT }), "[::]:3000")).toBe(false)
  })

  it("answers the public address's host, without a port when it uses its scheme's default", () => {
    const proxied = allowedHosts({ bindHost: "127.0.0.1", port: PORT, publicBaseUrl: "https://exports.example.com" })
    expect(hostAllowed(proxied, "exports.example.com")).toBe(true)
    expect(hostAllowed(proxied, "exports.example.com:443")).toBe(true)
    expect(hostAllowed(proxied, "exports.example.com:3000")).toBe(false)
    expect(hostAllowed(proxied, "other.example.com")).toBe(false)
    const lan = allowedHosts({ bindHost: "0.0.0.0", port: PORT, publicBaseUrl: "http://devbox.lan:3000" })
    expect(hostAllowed(lan, "devbox.lan:3000")).toBe(true)
    expect(hostAllowed(lan, "devbox.lan")).toBe(false)
  })

  it("a header without a port stands for 80 or 443, so loopback names alone pass only on those ports", () => {
    expect(hostAllowed(allowedHosts({ bindHost: "127.0.0.1", port: 80 }), "localhost")).toBe(true)
    expect(hostAllowed(allowedHosts({ bindHost: "127.0.0.1", port: 443 }), "127.0.0.1")).toBe(true)
  })
})

describe("isLoopbackAddress", () => {
  it("is true for localhost, 127.0.0.0/8 and ::1 only", () => {
    for (const address of ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]"]) {
      expect(isLoopbackAddress(address), address).toBe(true)
    }
    for (
      const address of ["0.0.0.0", "::", "", "192.168.1.10", "10.0.0.1", "fd00::5", "128.0.0.1", "127.0.0.1.nip.io"]
    ) {
      expect(isLoopbackAddress(address), address).toBe(false)
    }
  })
})

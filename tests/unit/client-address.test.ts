import { expect, test } from "bun:test";
import { loadConfig, ConfigError } from "../../src/config/load.ts";
import { invalidProxyEntries, TrustedProxies } from "../../src/config/trusted-proxies.ts";
import { clientAddressResolver } from "../../src/transport/client-address.ts";

const h = (init: Record<string, string>) => new Headers(init);

test("CIDR matching for IPv4, IPv6 and IPv4-mapped peers", () => {
  const t = new TrustedProxies(["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::1"]);
  expect(t.trusts("10.200.3.4")).toBe(true);
  expect(t.trusts("11.0.0.1")).toBe(false);
  expect(t.trusts("192.168.1.7")).toBe(true);
  expect(t.trusts("192.168.1.8")).toBe(false);
  expect(t.trusts("::ffff:10.1.2.3")).toBe(true);
  expect(t.trusts("2001:db8:abcd::1")).toBe(true);
  expect(t.trusts("2001:db9::1")).toBe(false);
  expect(t.trusts("::1")).toBe(true);
  expect(t.trusts("not-an-ip")).toBe(false);
  const odd = new TrustedProxies(["172.16.0.0/12"]);
  expect(odd.trusts("172.31.255.255")).toBe(true);
  expect(odd.trusts("172.32.0.0")).toBe(false);
});

test("TRUST_PROXY refuses entries that are not addresses or CIDRs, naming the key", () => {
  expect(invalidProxyEntries(["10.0.0.0/8", "10.0.0.0/33", "300.1.1.1", "fe80::/129", "proxy.local", "1::2::3"])).toEqual([
    "10.0.0.0/33",
    "300.1.1.1",
    "fe80::/129",
    "proxy.local",
    "1::2::3",
  ]);
  expect(() => loadConfig({ TRUST_PROXY: "10.0.0.0/8,proxy.local" })).toThrow(ConfigError);
  try {
    loadConfig({ TRUST_PROXY: "10.0.0.0/8,proxy.local" });
  } catch (err) {
    expect((err as ConfigError).problems.some((p) => p.startsWith("TRUST_PROXY: must be comma-separated IP addresses or CIDRs"))).toBe(true);
  }
  expect(loadConfig({ TRUST_PROXY: "10.0.0.0/8, ::1" }).trustProxy).toEqual(["10.0.0.0/8", "::1"]);
});

test("forwarded addresses count only from a trusted peer, and only right of the first untrusted hop", () => {
  const none = clientAddressResolver(undefined);
  expect(none("10.0.0.5", h({ "x-forwarded-for": "203.0.113.9" }))).toBe("10.0.0.5");
  const r = clientAddressResolver(["10.0.0.0/8"]);
  // Untrusted peer: its header is ignored (anyone can send one).
  expect(r("198.51.100.1", h({ "x-forwarded-for": "203.0.113.9" }))).toBe("198.51.100.1");
  expect(r("10.0.0.5", h({ "x-forwarded-for": "203.0.113.9" }))).toBe("203.0.113.9");
  // A client-written entry left of the real one is not believed; trusted hops are skipped.
  expect(r("10.0.0.5", h({ "x-forwarded-for": "1.2.3.4, 203.0.113.9, 10.0.0.9" }))).toBe("203.0.113.9");
  expect(r("10.0.0.5", h({ "x-forwarded-for": "10.0.0.7, 10.0.0.9" }))).toBe("10.0.0.7");
  expect(r("10.0.0.5", h({}))).toBe("10.0.0.5");
  expect(r("::ffff:10.0.0.5", h({ "x-forwarded-for": "::ffff:203.0.113.9" }))).toBe("203.0.113.9");
  // Garbage at the hop that matters: keep the peer rather than invent a client.
  expect(r("10.0.0.5", h({ "x-forwarded-for": "1.2.3.4, garbage" }))).toBe("10.0.0.5");
  // RFC 7239 Forwarded, with ports, quoting and IPv6 brackets.
  expect(r("10.0.0.5", h({ forwarded: 'for=1.2.3.4;proto=https, for="[2001:db8:cafe::17]:4711";by=10.0.0.5' }))).toBe("2001:db8:cafe::17");
  expect(r("10.0.0.5", h({ forwarded: "for=198.51.100.17:5555" }))).toBe("198.51.100.17");
});

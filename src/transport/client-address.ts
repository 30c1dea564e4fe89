import { parseAddress, TrustedProxies } from "../config/trusted-proxies.ts";
import type { HeaderReader } from "./port.ts";

/**
 * The client's address for audit lines and logs. The socket's peer, unless
 * that peer is a trusted proxy: then the forwarding headers are walked from
 * the nearest hop outwards, skipping trusted proxies, and the first address
 * not in TRUST_PROXY is the client (the leftmost when every hop is trusted).
 * Entries a client could have written itself (left of the first untrusted
 * hop) are never used.
 */
export type ClientAddress = (peer: string | undefined, headers: HeaderReader) => string | undefined;

/** Addresses listed in `X-Forwarded-For`, or else in `Forwarded` (RFC 7239 `for=`), left (client) to right (nearest proxy). */
function forwardedChain(headers: HeaderReader): string[] {
  const xff = headers.get("x-forwarded-for");
  if (xff) return xff.split(",").map((s) => s.trim()).filter(Boolean);
  const fwd = headers.get("forwarded");
  if (!fwd) return [];
  const out: string[] = [];
  for (const element of fwd.split(",")) {
    const m = /(?:^|;)\s*for\s*=\s*("?)([^";,]+)\1/i.exec(element);
    if (!m) continue;
    let v = m[2]!.trim();
    // "[2001:db8::1]:4711" or "192.0.2.1:4711": drop the port.
    if (v.startsWith("[")) v = v.slice(1, v.indexOf("]"));
    else if (/^[\d.]+:\d+$/.test(v)) v = v.slice(0, v.indexOf(":"));
    out.push(v);
  }
  return out;
}

/** Unwraps IPv4-mapped IPv6 (`::ffff:10.0.0.1`, as a dual-stack socket reports IPv4 peers). */
function plain(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}

export function clientAddressResolver(trustProxy: readonly string[] | undefined): ClientAddress {
  if (!trustProxy?.length) return (peer) => peer;
  const trusted = new TrustedProxies(trustProxy);
  return (peer, headers) => {
    if (peer === undefined || !trusted.trusts(peer)) return peer;
    const chain = forwardedChain(headers);
    for (let i = chain.length - 1; i >= 0; i--) {
      const hop = chain[i]!;
      if (parseAddress(hop) === undefined) return peer;
      if (!trusted.trusts(hop)) return plain(hop);
    }
    return chain.length > 0 ? plain(chain[0]!) : peer;
  };
}

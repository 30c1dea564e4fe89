/**
 * TRUST_PROXY: the addresses (single IPs or CIDRs, IPv4 or IPv6) of the
 * balancers in front of the nodes. Only a peer in this set may tell us the
 * client's address through X-Forwarded-For or Forwarded; anyone else could
 * forge it to dodge audit trails.
 */

/** 16 bytes; IPv4 is kept as its IPv4-mapped IPv6 form so one comparison serves both. */
type Address = Uint8Array;

function parseV4(s: string, out: Address, at: number): boolean {
  const parts = s.split(".");
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return false;
    out[at + i] = Number(p);
  }
  return true;
}

/** Parses an IPv4 or IPv6 address (zone ids and IPv6 brackets dropped); undefined when it is neither. */
export function parseAddress(text: string): Address | undefined {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const out = new Uint8Array(16);
  if (!s.includes(":")) {
    out[10] = 0xff;
    out[11] = 0xff;
    return parseV4(s, out, 12) ? out : undefined;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  // An embedded IPv4 tail (::ffff:10.0.0.1) counts as two groups.
  const last = (halves.length === 2 ? tail : head).at(-1);
  let v4: Uint8Array | undefined;
  if (last?.includes(".")) {
    v4 = new Uint8Array(16);
    if (!parseV4(last, v4, 12)) return undefined;
    (halves.length === 2 ? tail : head).pop();
  }
  const total = head.length + tail.length + (v4 ? 2 : 0);
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const words = [...head, ...new Array<string>(8 - total).fill("0"), ...tail];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return undefined;
    const n = parseInt(w, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  }
  if (v4) out.set(v4.subarray(12), 12);
  return out;
}

interface Range {
  base: Address;
  bits: number;
}

function parseRange(text: string): Range | undefined {
  const [addr, len, extra] = text.trim().split("/");
  if (extra !== undefined || addr === undefined) return undefined;
  const base = parseAddress(addr);
  if (!base) return undefined;
  const isV4 = !addr.includes(":");
  const max = isV4 ? 32 : 128;
  if (len !== undefined && (!/^\d{1,3}$/.test(len) || Number(len) > max)) return undefined;
  const bits = (len === undefined ? max : Number(len)) + (isV4 ? 96 : 0);
  return { base, bits };
}

function inRange(a: Address, r: Range): boolean {
  const whole = r.bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== r.base[i]) return false;
  const rest = r.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole]! & mask) === (r.base[whole]! & mask);
}

/** The entries that are not an address or CIDR (for the configuration error). */
export function invalidProxyEntries(entries: readonly string[]): string[] {
  return entries.filter((e) => parseRange(e) === undefined);
}

export class TrustedProxies {
  private readonly ranges: Range[];

  constructor(entries: readonly string[]) {
    this.ranges = entries.map((e) => {
      const r = parseRange(e);
      if (!r) throw new Error(`not an IP address or CIDR: ${e}`);
      return r;
    });
  }

  trusts(address: string): boolean {
    const a = parseAddress(address);
    return a !== undefined && this.ranges.some((r) => inRange(a, r));
  }
}

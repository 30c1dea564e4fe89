import { expect, test } from "bun:test";
import { SignJWT, errors, jwtVerify } from "jose";
import { createHmac } from "node:crypto";
import { verifyHs256 } from "../../src/hub/hs256.ts";

const SECRET = "differential-secret-of-at-least-32-bytes!!";
const KEY = new TextEncoder().encode(SECRET);
const b64 = (x: unknown) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
const sign = (input: string) => createHmac("sha256", SECRET).update(input).digest("base64url");
const raw = (header: unknown, payload: unknown) => {
  const head = b64(header) + "." + b64(payload);
  return head + "." + sign(head);
};

/** A seeded PRNG so that a failing token reproduces. */
function prng(seed: number) {
  return () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

async function corpus(): Promise<string[]> {
  const now = Math.floor(Date.now() / 1000);
  const tokens: string[] = [];
  const payloads: Record<string, unknown>[] = [
    { sub: "a", exp: now + 60 },
    { sub: "a" },
    { sub: "a", exp: now - 1 },
    { sub: "a", exp: now },
    { sub: "a", exp: "soon" },
    { sub: "a", exp: now + 60, nbf: now + 30 },
    { sub: "a", exp: now + 60, nbf: now },
    { sub: "a", exp: now + 60, nbf: "x" },
    { sub: "a", exp: now + 60, iat: "x" },
    { sub: "a", exp: now + 60, iat: now - 10 },
    { exp: now + 60 },
    { sub: "a", exp: now + 60, aud: "care-app" },
    { sub: "a", exp: now + 60, aud: ["x", "care-app"] },
    { sub: "a", exp: now + 60, aud: ["x"] },
    { sub: "a", exp: now + 60, aud: 5 },
    { sub: "a", exp: now + 60, iss: "https://idp" },
    { sub: "a", exp: now + 60, iss: "https://idp", aud: "care-app" },
    { sub: "a", exp: now + 60, iss: ["https://idp"], aud: "care-app" },
    { sub: "a", exp: now + 60.5 },
    { sub: "a", exp: 2 ** 53 + 2 },
    { sub: "a", exp: now + 60, nbf: now - 0.5 },
    { sub: "a", exp: now + 60, iat: -1 },
    { sub: "a", exp: null },
    { sub: "a", exp: now + 60, nbf: null },
  ];
  const headers: unknown[] = [
    { alg: "HS256" },
    { alg: "HS256", typ: "JWT" },
    { alg: "HS384" },
    { alg: "none" },
    { alg: "hs256" },
    { typ: "JWT" },
    { alg: "HS256", crit: ["exp"] },
    { alg: "HS256", b64: false, crit: ["b64"] },
    [],
    "HS256",
  ];
  for (const h of headers) for (const p of payloads) tokens.push(raw(h, p));
  for (const p of payloads) tokens.push(await new SignJWT(p as any).setProtectedHeader({ alg: "HS256" }).sign(KEY));
  // Non-object and broken payloads, bad encodings, wrong segment counts.
  const weird = [raw({ alg: "HS256" }, [1, 2]), raw({ alg: "HS256" }, "null"), raw({ alg: "HS256" }, "42")];
  for (const text of ['{"sub":"a","exp":1e400}', '{"sub":"a","exp":-1e400}', '{"sub":"a","nbf":1e400}', '{"sub":"a","iat":1e400}', '{"sub":"a","exp":1.7e9}']) weird.push(raw({ alg: "HS256" }, text));
  const h = b64({ alg: "HS256" });
  const badUtf8 = h + "." + Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]).toString("base64url");
  weird.push(badUtf8 + "." + sign(badUtf8));
  const padded = h + "." + Buffer.from(JSON.stringify({ sub: "a" })).toString("base64");
  weird.push(padded + "." + sign(padded));
  // Padding, the standard alphabet and non-canonical trailing bits in each segment.
  const good = tokens[payloads.length]!;
  const [gh, gp, gs] = good.split(".") as [string, string, string];
  const std = (seg: string) => Buffer.from(seg, "base64url").toString("base64");
  const bumpLast = (seg: string) => seg.slice(0, -1) + String.fromCharCode(seg.charCodeAt(seg.length - 1) + 1);
  const signed = (head: string) => head + "." + sign(head);
  weird.push(gh + "." + gp + "." + gs + "=", gh + "." + gp + "." + gs + "==", gh + "." + gp + "." + gs + "===");
  weird.push(gh + "." + gp + "." + std(gs), gh + "." + gp + "." + gs.replace(/-/g, "+").replace(/_/g, "/"));
  weird.push(gh + "." + gp + "." + bumpLast(gs), gh + "." + gp + "." + gs + "A", gh + "." + gp + "." + gs.slice(0, -1));
  weird.push(signed(gh + "=." + gp), signed(gh + "==." + gp), signed(std(gh) + "." + gp), signed(gh + "." + gp + "="), signed(gh + "." + gp + "=="));
  weird.push(signed(gh + "." + std(gp)), signed(bumpLast(gh) + "." + gp), signed(gh + "." + bumpLast(gp)), signed(gh + " ." + gp), signed(gh + "." + gp + "\n"));
  weird.push(signed(gh + "." + gp.replace(/-/g, "+").replace(/_/g, "/")), signed("=" + gh + "." + gp), signed(gh + "." + "=" + gp));
  for (const extra of [{ alg: "HS256", x: "é" }, { alg: "HS256", typ: "JWT", kid: "k1" }]) {
    for (const enc of ["base64url", "base64"] as const) {
      const head = Buffer.from(JSON.stringify(extra)).toString(enc) + "." + Buffer.from(JSON.stringify({ sub: "a", exp: Math.floor(Date.now() / 1000) + 60 })).toString(enc);
      weird.push(signed(head));
    }
  }
  weird.push("", ".", "..", "a.b", "a.b.c.d", tokens[0] + ".", " " + tokens[0], tokens[0]!.slice(0, -1), tokens[0]!.split(".").slice(0, 2).join(".") + ".");
  tokens.push(...weird);
  // Random single-character mutations of valid tokens.
  const rnd = prng(42);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
  const valid = tokens.slice(0, payloads.length);
  for (let i = 0; i < 600; i++) {
    const t = valid[Math.floor(rnd() * valid.length)]!;
    const at = Math.floor(rnd() * t.length);
    tokens.push(t.slice(0, at) + alphabet[Math.floor(rnd() * alphabet.length)] + t.slice(at + 1));
  }
  return tokens;
}

const RULES = [
  { requireExp: false },
  { requireExp: true },
  { requireExp: true, audience: "care-app" },
  { requireExp: false, issuer: "https://idp" },
  { requireExp: true, issuer: "https://idp", audience: "care-app" },
];

test("the HS256 fast path accepts exactly the tokens jose accepts, with the same payloads", async () => {
  const tokens = await corpus();
  let accepted = 0;
  for (const rules of RULES) {
    for (const token of tokens) {
      const byJose = await jwtVerify(token, KEY, {
        algorithms: ["HS256"],
        issuer: rules.issuer,
        audience: rules.audience,
        requiredClaims: rules.requireExp ? ["sub", "exp"] : ["sub"],
      }).then(
        (r) => ({ ok: true as const, payload: r.payload }),
        (e) => ({ ok: false as const, expired: e instanceof errors.JWTExpired }),
      );
      let fast: { ok: true; payload: unknown } | { ok: false; msg: string };
      try {
        fast = { ok: true, payload: verifyHs256(token, Buffer.from(SECRET), rules) };
      } catch (e) {
        fast = { ok: false, msg: (e as Error).message };
      }
      const where = `${JSON.stringify(rules)} ${JSON.stringify(token)}`;
      expect(fast.ok, where).toBe(byJose.ok);
      if (fast.ok && byJose.ok) {
        accepted++;
        expect(fast.payload, where).toEqual(byJose.payload);
      }
      if (!fast.ok && !byJose.ok && byJose.expired) expect(fast.msg, where).toBe("token expired");
    }
  }
  // The corpus must exercise both outcomes under every rule set.
  expect(accepted).toBeGreaterThan(20);
});

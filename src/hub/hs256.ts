import { base64url } from "jose";
import { createHmac, timingSafeEqual } from "node:crypto";
import { SwitchboardError } from "../protocol/errors.ts";

/**
 * HS256 verification on the connect path, synchronous: jose's WebCrypto path
 * costs ~40 µs per token here, this ~8 µs, and every connect verifies one.
 * It accepts exactly what jose's jwtVerify accepts with the same options
 * (tests/unit/hs256.test.ts checks that token by token); RS256, ES256 and
 * JWKS keys still go through jose.
 */

export interface ClaimRules {
  issuer?: string;
  audience?: string;
  requireExp: boolean;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** What jose decodes with where the runtime has it (Bun); elsewhere (Node 20) jose's own decoder, which falls back to atob. */
const fromBase64 =
  (Uint8Array as unknown as { fromBase64?: (s: string, o: { alphabet: "base64url" }) => Uint8Array }).fromBase64 ?? ((s: string) => base64url.decode(s));

/**
 * base64url exactly as jose decodes it on this runtime (Uint8Array.fromBase64,
 * loose last chunk): correct padding and ASCII whitespace tolerated, wrong
 * padding and the standard alphabet refused. Anything else would make the
 * fast path accept token spellings jose refuses.
 */
function b64url(segment: string): Uint8Array | undefined {
  try {
    return fromBase64!(segment, { alphabet: "base64url" });
  } catch {
    return undefined;
  }
}

/**
 * HMAC-SHA256 of `data` under `key`: Bun's native hasher where there is one
 * (half the CPU of node:crypto's createHmac here: 0.44 vs 0.89 µs a token),
 * node:crypto on Node.
 */
const hmacSha256: (key: Buffer, data: string) => Uint8Array =
  typeof Bun !== "undefined" ? (key, data) => new Bun.CryptoHasher("sha256", key).update(data).digest() : (key, data) => createHmac("sha256", key).update(data).digest();

function fail(message: string): never {
  throw new SwitchboardError("AUTHENTICATION_FAILED", message);
}

function decodeJson(segment: string): Record<string, unknown> {
  const bytes = b64url(segment);
  if (bytes === undefined) fail("token is malformed");
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    fail("token is malformed");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail("token is malformed");
  return value as Record<string, unknown>;
}

function numericDate(claims: Record<string, unknown>, claim: string, message: string): number | undefined {
  const v = claims[claim];
  if (v === undefined) return undefined;
  if (typeof v !== "number") fail(message);
  return v;
}

/** The header segment of the last token whose header passed (its checks depend on nothing else). */
let acceptedHeader = "";

/** Verifies an HS256 JWT and its registered claims; returns the payload or throws AUTHENTICATION_FAILED. */
export function verifyHs256(token: string, key: Buffer, rules: ClaimRules, nowSec = Math.floor(Date.now() / 1000)): Record<string, unknown> {
  const dot1 = token.indexOf(".");
  const dot2 = token.indexOf(".", dot1 + 1);
  if (dot1 <= 0 || dot2 < 0 || token.indexOf(".", dot2 + 1) >= 0) fail("token is malformed");
  // An issuer's tokens share one header: the last one accepted is not decoded again.
  if (dot1 !== acceptedHeader.length || !token.startsWith(acceptedHeader)) {
    const segment = token.slice(0, dot1);
    const header = decodeJson(segment);
    if (typeof header.alg !== "string") fail("token is malformed");
    if (header.alg !== "HS256") fail("token algorithm is not accepted");
    // jose refuses critical extensions it does not know and unencoded payloads in JWTs.
    if (header.crit !== undefined || header.b64 !== undefined) fail("token is malformed");
    acceptedHeader = segment;
  }
  const sigText = token.slice(dot2 + 1);
  const signature = sigText === "" ? fail("token signature is invalid") : b64url(sigText);
  if (signature === undefined) fail("token is malformed");
  const expected = hmacSha256(key, token.slice(0, dot2));
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) fail("token signature is invalid");
  const claims = decodeJson(token.slice(dot1 + 1, dot2));

  const required = ["sub", ...(rules.requireExp ? ["exp"] : [])];
  if (rules.audience !== undefined) required.push("aud");
  if (rules.issuer !== undefined) required.push("iss");
  for (const claim of required.reverse()) {
    if (!Object.hasOwn(claims, claim)) {
      if (claim === "aud") fail("token audience is not accepted");
      if (claim === "iss") fail("token issuer is not accepted");
      fail(`token ${claim} claim is missing or invalid`);
    }
  }
  if (rules.issuer !== undefined && claims.iss !== rules.issuer) fail("token issuer is not accepted");
  if (rules.audience !== undefined) {
    const aud = claims.aud;
    const ok = typeof aud === "string" ? aud === rules.audience : Array.isArray(aud) && aud.includes(rules.audience);
    if (!ok) fail("token audience is not accepted");
  }
  numericDate(claims, "iat", "token iat claim is missing or invalid");
  const nbf = numericDate(claims, "nbf", "token is not yet valid");
  if (nbf !== undefined && nbf > nowSec) fail("token is not yet valid");
  const exp = numericDate(claims, "exp", "token exp claim is missing or invalid");
  if (exp !== undefined && exp <= nowSec) fail("token expired");
  return claims;
}

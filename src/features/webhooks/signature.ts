import { createHmac, timingSafeEqual } from "node:crypto";

/** Headers of a signed delivery: the Unix time in seconds, and `v1=` + hex HMAC-SHA256 over `timestamp + "." + body`. */
export const TIMESTAMP_HEADER = "x-switchboard-timestamp";
export const SIGNATURE_HEADER = "x-switchboard-signature";

export function sign(secret: string, timestampSec: number, body: string): string {
  return "v1=" + createHmac("sha256", secret).update(`${timestampSec}.${body}`).digest("hex");
}

/** Adds the signature headers for `body`, signed now. */
export function signHeaders(secret: string, body: string, headers: Record<string, string>, nowMs = Date.now()): void {
  const ts = Math.floor(nowMs / 1000);
  headers[TIMESTAMP_HEADER] = String(ts);
  headers[SIGNATURE_HEADER] = sign(secret, ts, body);
}

/** What a receiver checks: the signature matches and the timestamp is within `toleranceSec` (replays of old deliveries fail). */
export function verify(secret: string, timestamp: string, signature: string, body: string, toleranceSec = 300, nowMs = Date.now()): boolean {
  const ts = Number(timestamp);
  if (!Number.isSafeInteger(ts) || Math.abs(nowMs / 1000 - ts) > toleranceSec) return false;
  const want = Buffer.from(sign(secret, ts, body));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** signHeaders for a binary body (a report job's PDF): the same HMAC, over timestamp + "." + the raw bytes. */
export function signBytesHeaders(secret: string, body: Uint8Array, headers: Record<string, string>, nowMs = Date.now()): void {
  const ts = Math.floor(nowMs / 1000);
  headers[TIMESTAMP_HEADER] = String(ts);
  headers[SIGNATURE_HEADER] = "v1=" + createHmac("sha256", secret).update(`${ts}.`).update(body).digest("hex");
}

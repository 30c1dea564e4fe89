import { timingSafeEqual } from "node:crypto";

/** True when `header` is `Bearer <key>` for exactly `key` (compared in constant time). */
export function bearerMatches(header: string | undefined, key: Buffer): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  return given.length === key.length && timingSafeEqual(given, key);
}

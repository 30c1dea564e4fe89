import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Received } from "../helpers/http-receiver.ts";

/** The README's verification recipe. */
export function verified(secret: string, r: Received): boolean {
  const ts = r.headers["x-switchboard-timestamp"] ?? "";
  const got = r.headers["x-switchboard-signature"] ?? "";
  const want = "v1=" + createHmac("sha256", secret).update(ts + "." + r.body).digest("hex");
  return Math.abs(Date.now() / 1000 - Number(ts)) <= 300 && got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want));
}

/** A config file in a temp dir (`write` replaces it; more files go beside it). */
export function tempConfig(content: Record<string, unknown>): { path: string; dir: string; write(c: Record<string, unknown>, name?: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "sb-webhooks-"));
  const write = (c: Record<string, unknown>, name = "config.json") => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(c));
    return p;
  };
  return { path: write(content), dir, write, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

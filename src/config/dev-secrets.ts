import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Development only: a generated JWT secret and API key kept in DATA_DIR, so a
 * restart keeps dev tokens valid and `npm run token` signs with the same secret.
 */
export function devSecret(dataDir: string, name: "jwt-secret" | "api-key"): string {
  const path = join(dataDir, `dev-${name}`);
  if (existsSync(path)) {
    const value = readFileSync(path, "utf8").trim();
    if (value.length >= 32) return value;
  }
  mkdirSync(dataDir, { recursive: true });
  const value = (name === "api-key" ? "dev-" : "") + crypto.randomUUID().replaceAll("-", "") + crypto.randomUUID().replaceAll("-", "");
  writeFileSync(path, value + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
  return value;
}

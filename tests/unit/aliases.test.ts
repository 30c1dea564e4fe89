import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ALIASES, REFUSED_ALIASES } from "../../src/config/aliases.ts";
import { ConfigError, loadConfig } from "../../src/config/load.ts";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

test("REDIS_HOST/REDIS_PORT/REDIS_PASSWORD build REDIS_URL; an empty REDIS_HOST means no Redis", () => {
  const c = loadConfig({ REDIS_HOST: "redis.internal", REDIS_PORT: "6380", REDIS_PASSWORD: "p@ss word" });
  expect(c.redis?.url).toBe("redis://:p%40ss%20word@redis.internal:6380");
  expect(c.aliasesApplied).toEqual(["REDIS_HOST/REDIS_PORT/REDIS_PASSWORD → REDIS_URL"]);
  expect(loadConfig({ REDIS_HOST: "redis" }).redis?.url).toBe("redis://redis:6379");
  const none = loadConfig({ REDIS_HOST: "", REDIS_PORT: "6379", REDIS_PASSWORD: "x" });
  expect(none.redis).toBeUndefined();
  expect(problems({ REDIS_HOST: "a", REDIS_URL: "redis://b:6379" })[0]).toStartWith("REDIS_HOST: set either REDIS_URL");
  expect(problems({ REDIS_HOST: "a", REDIS_PORT: "http" })[0]).toStartWith("REDIS_PORT: must be a port number");
  expect(problems({ REDIS_PORT: "6379" })[0]).toStartWith("REDIS_PORT: has no REDIS_HOST");
});

test("REDIS_PASSWORD is added to a REDIS_URL without one, and refused when it contradicts it", () => {
  expect(loadConfig({ REDIS_URL: "redis://localhost:6379", REDIS_PASSWORD: "s3cret" }).redis?.url).toBe("redis://:s3cret@localhost:6379");
  expect(loadConfig({ REDIS_URL: "redis://:s3cret@localhost:6379", REDIS_PASSWORD: "s3cret" }).redis?.url).toBe("redis://:s3cret@localhost:6379");
  expect(problems({ REDIS_URL: "redis://:other@localhost:6379", REDIS_PASSWORD: "s3cret" })[0]).toStartWith("REDIS_PASSWORD: REDIS_URL already has a different password");
});

test("REDIS_ENABLED / ENABLE_REDIS_ADAPTER: true requires Redis (default address as the seeds had), false means embedded", () => {
  const on = loadConfig({ ENABLE_REDIS_ADAPTER: "true", REDIS_URL: "redis://r:6379" });
  expect(on.redis?.url).toBe("redis://r:6379");
  expect(on.redis?.required).toBe(true);
  expect(loadConfig({ REDIS_ENABLED: "true" }).redis?.url).toBe("redis://localhost:6379");
  expect(loadConfig({ REDIS_URL: "redis://r:6379" }).redis?.required).toBe(false);
  const off = loadConfig({ REDIS_ENABLED: "false", REDIS_HOST: "r" });
  expect(off.redis).toBeUndefined();
  expect(off.aliasesApplied.some((a) => a.startsWith("REDIS_ENABLED=false → embedded engine"))).toBe(true);
  expect(problems({ REDIS_ENABLED: "true", ENABLE_REDIS_ADAPTER: "false" })[0]).toStartWith("ENABLE_REDIS_ADAPTER: contradicts REDIS_ENABLED");
  expect(problems({ REDIS_ENABLED: "maybe" })[0]).toStartWith("REDIS_ENABLED: must be true or false");
});

test("CORS_ORIGIN and REALTIME_CORS_ORIGIN become the CORS_ORIGINS allowlist; * stays any origin", () => {
  expect(loadConfig({ CORS_ORIGIN: "https://app.example" }).corsOrigins).toEqual(["https://app.example"]);
  expect(loadConfig({ REALTIME_CORS_ORIGIN: "http://localhost:3000,https://yourdomain.com" }).corsOrigins).toEqual(["http://localhost:3000", "https://yourdomain.com"]);
  expect(loadConfig({ CORS_ORIGIN: "*" }).corsOrigins).toBeUndefined();
  expect(problems({ CORS_ORIGIN: "https://a.example", CORS_ORIGINS: "https://b.example" })[0]).toStartWith("CORS_ORIGIN: CORS_ORIGINS is set to something else");
});

test("settings whose meaning differs stop the start and name the replacement", () => {
  const p = problems({ WS_RATE_LIMIT_EVENTS_PER_MINUTE: "100", REDIS_MAX_RETRIES: "10", REDIS_RETRY_DELAY: "3000" });
  expect(p).toHaveLength(3);
  expect(p[0]).toContain("WS_RATE_LIMIT_PER_SEC=2 WS_RATE_LIMIT_BURST=100");
  expect(p[1]).toStartWith("REDIS_MAX_RETRIES: not supported");
  expect(p[1]).toContain("REDIS_COMMAND_TIMEOUT_MS");
  expect(p[2]).toStartWith("REDIS_RETRY_DELAY: not supported");
});

test("the README's configuration tables list every alias and refused name", () => {
  const readme = readFileSync(join(import.meta.dir, "../../README.md"), "utf8");
  for (const k of [...Object.keys(ALIASES), ...Object.keys(REFUSED_ALIASES)]) {
    expect(readme.split("\n").some((l) => l.startsWith(`| \`${k}\` |`)), k).toBe(true);
  }
});

test("Sentinel and TLS settings: each misuse is named", () => {
  expect(problems({ REDIS_SENTINELS: "127.0.0.1:26379" })).toEqual(["REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the name in `sentinel monitor <name> …`)"]);
  expect(problems({ REDIS_SENTINELS: "127.0.0.1:26379", REDIS_SENTINEL_NAME: "m", REDIS_URL: "redis://x:1" })[0]).toStartWith("REDIS_SENTINELS: set either");
  expect(problems({ REDIS_SENTINELS: "sentinel-without-port", REDIS_SENTINEL_NAME: "m" })[0]).toContain("is not host:port");
  expect(problems({ REDIS_URL: "redis://x:1", REDIS_TLS_CA_FILE: "/etc/hostname" })).toEqual(["REDIS_TLS_CA_FILE: applies to a rediss:// REDIS_URL only"]);
  expect(problems({ REDIS_URL: "rediss://x:1", REDIS_TLS_CA_FILE: "/nonexistent/ca.pem" })[0]).toStartWith("REDIS_TLS_CA_FILE: file /nonexistent/ca.pem does not exist");
  const c = loadConfig({ REDIS_SENTINELS: "10.0.0.1:26379, 10.0.0.2:26379", REDIS_SENTINEL_NAME: "m", REDIS_PASSWORD: "pw" });
  expect(c.redis).toMatchObject({ sentinels: ["10.0.0.1:26379", "10.0.0.2:26379"], sentinelName: "m", password: "pw", url: undefined });
  // REDIS_PASSWORD with sentinels is the primary's password, not an orphan alias.
  expect(c.aliasesApplied).toEqual([]);
});

import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config/load.ts";
import { DEFAULT_NAMESPACES } from "../../src/config/policy.ts";
import { SETTINGS } from "../../src/config/settings.ts";
import { autoConnectionCap } from "../../src/config/memory-budget.ts";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

test("defaults: development on 8080 with the documented default policy and limits", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-cfg-"));
  const c = loadConfig({ DATA_DIR: dataDir });
  expect(SETTINGS.DATA_DIR.default).toBe("./data");
  expect(c).toMatchObject({ env: "development", port: 8080, host: "0.0.0.0", dataDir });
  expect(c.ws).toMatchObject({ maxConnectionsPerUser: 5, maxSubscriptions: 50, rateLimitPerSec: 50, rateLimitBurst: 100, maxMessageSize: 1048576 });
  expect(c.jwt.generated).toBe(true);
  // The development secret is kept in DATA_DIR, so restarts (and npm run token) use the same one.
  expect(loadConfig({ DATA_DIR: dataDir }).jwt.secret).toBe(c.jwt.secret!);
  expect(c.jwt.secret!.length).toBeGreaterThanOrEqual(32);
  expect(c.namespaces).toEqual(DEFAULT_NAMESPACES);
  expect(c.redis).toBeUndefined();
});

test("every error names the offending key, and all of them are reported at once", () => {
  const p = problems({ PORT: "eighty", WS_RATE_LIMIT_PER_SEC: "-3", LOG_LEVEL: "loud", JWT_SECRET: "short", DATA_DIR: mkdtempSync(join(tmpdir(), "sb-cfg-")) });
  expect(p.some((x) => x.startsWith("PORT: must be an integer"))).toBe(true);
  expect(p.some((x) => x.startsWith("WS_RATE_LIMIT_PER_SEC:"))).toBe(true);
  expect(p.some((x) => x.startsWith("LOG_LEVEL:"))).toBe(true);
  expect(p.some((x) => x.startsWith("JWT_SECRET:") && !x.includes("short"))).toBe(true);
});

test("production refuses to start without a JWT key and an API key", () => {
  const p = problems({ NODE_ENV: "production" });
  expect(p.some((x) => x.startsWith("JWT_SECRET:"))).toBe(true);
  expect(p.some((x) => x.startsWith("API_KEYS:"))).toBe(true);
  expect(problems({ NODE_ENV: "production", JWT_SECRET: "x".repeat(32), API_KEYS: "k1,k2", CORS_ORIGINS: "https://app.example" })).toEqual([]);
});

test("production refuses to start without CORS_ORIGINS unless it is explicitly *", () => {
  const base = { NODE_ENV: "production", JWT_SECRET: "x".repeat(32), API_KEYS: "k1" };
  expect(problems(base).filter((x) => x.startsWith("CORS_ORIGINS:"))).toHaveLength(1);
  expect(problems({ ...base, CORS_ORIGINS: "*" })).toEqual([]);
  expect(loadConfig({ ...base, CORS_ORIGINS: "*" }).corsOrigins).toBeUndefined();
  expect(loadConfig({ ...base, CORS_ORIGINS: "https://a.example,https://b.example" }).corsOrigins).toEqual(["https://a.example", "https://b.example"]);
  // Development keeps the convenient default.
  expect(problems({ NODE_ENV: "development" }).filter((x) => x.startsWith("CORS_ORIGINS:"))).toEqual([]);
});

test("the connection cap defaults to a size from memory; auto and 0 are accepted", () => {
  const base = { NODE_ENV: "test", JWT_SECRET: "x".repeat(32) };
  const auto = loadConfig(base).ws.maxGlobalConnections;
  expect(auto).toBeGreaterThanOrEqual(1000);
  expect(auto).toBe(autoConnectionCap());
  expect(autoConnectionCap(512 * 1024 * 1024)).toBe(8192);
  expect(loadConfig({ ...base, WS_MAX_GLOBAL_CONNECTIONS: "0" }).ws.maxGlobalConnections).toBe(0);
  expect(problems({ ...base, WS_MAX_GLOBAL_CONNECTIONS: "lots" }).some((x) => x.startsWith("WS_MAX_GLOBAL_CONNECTIONS:"))).toBe(true);
});

test("a config file supplies values and namespaces; env wins; bad rules are named by path", () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-cfg-"));
  const file = join(dir, "c.json");
  writeFileSync(file, JSON.stringify({ PORT: 9000, WS_MAX_ROOMS_PER_USER: 7, namespaces: { chat: { subscribe: ["tenant"], publish: ["tenant"] } } }));
  const c = loadConfig({ SWITCHBOARD_CONFIG: file, PORT: "9001", DATA_DIR: dir });
  expect(c.port).toBe(9001);
  expect(c.ws.maxSubscriptions).toBe(7);
  expect(Object.keys(c.namespaces)).toEqual(["chat"]);
  expect(c.namespaces.chat).toMatchObject({ history: false, presence: false });
  writeFileSync(file, JSON.stringify({ BOGUS: 1, namespaces: { chat: { subscribe: ["everyone"], publish: [] } } }));
  const p = problems({ SWITCHBOARD_CONFIG: file });
  expect(p.some((x) => x.startsWith("BOGUS: unknown key"))).toBe(true);
  expect(p.some((x) => x.startsWith("namespaces.chat.subscribe.0:"))).toBe(true);
});

test("the README documents every setting with its default", () => {
  const readme = readFileSync(join(import.meta.dir, "../../README.md"), "utf8");
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const row = readme.split("\n").find((l) => l.startsWith(`| \`${key}\``));
    expect(row, `README row for ${key}`).toBeDefined();
    if (spec.default !== undefined) expect(row!, `default of ${key}`).toContain(`\`${spec.default}\``);
  }
});

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

/**
 * User errors at start-up and on the command line end with one line on stderr
 * saying what is wrong and what to do, and a non-zero exit: never a stack trace.
 */
const ROOT = resolve(import.meta.dir, "../..");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sb-startup-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOST: "127.0.0.1", PORT: "0", DATA_DIR: mkdtempSync(join(dir, "data-")), ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

const server = (env: Record<string, string>) => run([process.execPath, "src/main.ts"], env);
const tokenCli = (...args: string[]) => run(["npm", "run", "-s", "token", "--", ...args]);

/** Exactly one line, no stack frames, no runtime banner. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at |Bun v\d|^error: /m);
  return lines[0]!;
}

test("npm run token: an unknown flag, a missing value, a bad duration and an empty sub each get one line and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--bad"], /Unknown option '--bad'.*the flags are --sub --tenant/],
    [["--sub"], /Option '--sub <value>' argument missing/],
    [["--exp", "banana"], /--exp "banana" is not a duration; use a number and a unit, e\.g\. 30m/],
    [["--sub", ""], /--sub must not be empty/],
    [["stray"], /Unexpected argument 'stray'/],
  ];
  for (const [args, message] of cases) {
    const r = await tokenCli(...args);
    expect(r.code, args.join(" ")).toBe(2);
    expect(r.stdout).toBe("");
    expect(oneLine(r.stderr)).toMatch(new RegExp(`^npm run token: ${message.source}`));
  }
  const ok = await tokenCli("--sub", "bob");
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+\n$/);
});

test("npm run listen: no channel, a bad flag, or no server to reach: one line each, exit 2", async () => {
  const listen = (...args: string[]) => run(["npm", "run", "-s", "listen", "--", ...args]);
  const none = await listen();
  expect(none.code).toBe(2);
  expect(oneLine(none.stderr)).toBe("npm run listen: name at least one channel, e.g. npm run -s listen -- room:lobby");
  const bad = await listen("room:lobby", "--bogus");
  expect(bad.code).toBe(2);
  expect(oneLine(bad.stderr)).toMatch(/^npm run listen: Unknown option '--bogus'.*; usage: npm run -s listen -- <channel>/);
  const closed = await listen("room:lobby", "--url", "ws://127.0.0.1:1/v1/ws");
  expect(closed.code).toBe(2);
  expect(oneLine(closed.stderr)).toBe("npm run listen: cannot connect to ws://127.0.0.1:1/v1/ws: is the server running (npm start)? Set PORT or --url if it listens elsewhere");
});

test("a port already in use: one line naming the port and what to do, exit 1", async () => {
  const first = await startServer();
  try {
    const r = await server({ PORT: String(first.port), JWT_SECRET: "x".repeat(32), API_KEYS: "k" });
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      `switchboard: cannot listen on 127.0.0.1:${first.port}: the port is already in use (another Switchboard or another program); stop it, or start with another PORT (PORT=0 picks a free one)`,
    );
  } finally {
    await first.stop();
  }
});

test("TLS files that are missing, a directory, not PEM, or PEM that is not a certificate: one line each, exit 1", async () => {
  const notPem = join(dir, "not.pem");
  writeFileSync(notPem, "hello");
  const badPem = join(dir, "bad.pem");
  writeFileSync(badPem, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n");
  const aDir = join(dir, "a-dir");
  mkdirSync(aDir);
  const cases: [Record<string, string>, string][] = [
    [{ TLS_CERT_FILE: join(dir, "nope.pem"), TLS_KEY_FILE: badPem }, `TLS_CERT_FILE: file ${join(dir, "nope.pem")} does not exist`],
    [{ TLS_CERT_FILE: aDir, TLS_KEY_FILE: badPem }, `TLS_CERT_FILE: ${aDir} is a directory, not a PEM file`],
    [{ TLS_CERT_FILE: badPem, TLS_KEY_FILE: notPem }, `TLS_KEY_FILE: ${notPem} is not a PEM file (no "-----BEGIN" line)`],
    [{ TLS_CERT_FILE: badPem }, "TLS_CERT_FILE: TLS_CERT_FILE and TLS_KEY_FILE must be set together"],
  ];
  for (const [env, problem] of cases) {
    const r = await server(env);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(`switchboard: invalid configuration: ${problem}`);
  }
  const r = await server({ TLS_CERT_FILE: badPem, TLS_KEY_FILE: badPem });
  expect(r.code).toBe(1);
  expect(oneLine(r.stderr)).toMatch(new RegExp(`^switchboard: cannot serve TLS with TLS_CERT_FILE=${badPem} and TLS_KEY_FILE=${badPem} \\(.+\\); they must be a PEM certificate and its PEM private key$`));
});

test("a bad policy file names each key and the allowed values in words, not the validator's", async () => {
  const file = join(dir, "bad-policy.json");
  writeFileSync(
    file,
    JSON.stringify({
      extends: "base",
      namespaces: { room: { subscribe: ["everyone"], publish: "claim:rooms", history: { size: 0, ttlSec: 60 }, presense: true } },
    }),
  );
  const r = await server({ SWITCHBOARD_CONFIG: file });
  expect(r.code).toBe(1);
  const line = oneLine(r.stderr);
  expect(line).toStartWith("switchboard: invalid configuration: ");
  for (const part of [
    'extends: must be "default" (keep the default namespaces and override them by name) or left out (the file\'s namespaces replace the defaults); got "base"',
    "namespaces.room.subscribe.0: must be self, tenant, tenant-id, server, member, participant, backend, claim:<name> or role:<role>",
    'namespaces.room.publish: must be a list of rules, e.g. ["claim:rooms", "role:admin"]',
    "namespaces.room.history.size: size must be at least 1",
    'namespaces.room.presense: unknown key "presense"; a namespace takes subscribe, publish, history, presence, joinLeave, retention',
  ]) {
    expect(line).toContain(part);
  }
  expect(line).not.toMatch(/Invalid type|Expected|received/);

  writeFileSync(file, "{ not json");
  expect(oneLine((await server({ SWITCHBOARD_CONFIG: file })).stderr)).toMatch(/^switchboard: invalid configuration: SWITCHBOARD_CONFIG: .*bad-policy\.json is not valid JSON/);
  expect(oneLine((await server({ SWITCHBOARD_CONFIG: join(dir, "missing.json") })).stderr)).toBe(
    `switchboard: invalid configuration: SWITCHBOARD_CONFIG: cannot read ${join(dir, "missing.json")} (ENOENT)`,
  );
});

/** The README's policy example, taken from the README itself. */
function readmePolicy(): Record<string, unknown> {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const at = readme.indexOf("A policy file (`SWITCHBOARD_CONFIG=switchboard.json`)");
  const block = /```json\n([\s\S]*?)```/.exec(readme.slice(at))!;
  return JSON.parse(block[1]!) as Record<string, unknown>;
}

test("the README's policy file keeps the default namespaces and adds its own", async () => {
  const policy = readmePolicy();
  expect(policy.extends).toBe("default");
  const file = join(dir, "switchboard.json");
  writeFileSync(file, JSON.stringify(policy));
  const s: TestServer = await startServer({ env: { SWITCHBOARD_CONFIG: file, API_KEYS: "" } });
  try {
    expect(s.logs.find((l) => l.msg === "channel policy")?.namespaces).toEqual(["user", "org", "room", "student", "case", "call", "chat", "alerts"]);
    const { client } = await TestClient.auth(s.wsUrl, await token({ sub: "alice", tenant: "acme", rooms: ["lobby"] }));
    expect(await client.request({ t: "sub", ch: "user:alice" })).toMatchObject({ t: "ok" });
    expect(await client.request({ t: "sub", ch: "alerts:ward-3" })).toMatchObject({ t: "ok" });
    expect(await client.request({ t: "pub", ch: "alerts:ward-3", ev: "e", data: 1 })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
    expect(await client.request({ t: "pub", ch: "room:lobby", ev: "e", data: 1 })).toMatchObject({ t: "ok" });
    // The file's API key is the one the HTTP API takes.
    const res = await fetch(`${s.url}/v1/publish`, {
      method: "POST",
      headers: { authorization: "Bearer backend-key-1", "content-type": "application/json" },
      body: JSON.stringify({ tenant: "acme", ch: "alerts:ward-3", ev: "fall", data: { bed: 4 } }),
    });
    expect(res.status).toBe(200);
    client.close();
  } finally {
    await s.stop();
  }

  // Without "extends" the file's namespaces are all there is.
  const { extends: _e, ...replacing } = policy;
  writeFileSync(file, JSON.stringify(replacing));
  const r: TestServer = await startServer({ env: { SWITCHBOARD_CONFIG: file } });
  try {
    expect(r.logs.find((l) => l.msg === "channel policy")?.namespaces).toEqual(["room", "alerts"]);
    const { client } = await TestClient.auth(r.wsUrl, await token({ sub: "alice", tenant: "acme" }));
    expect(await client.request({ t: "sub", ch: "user:alice" })).toMatchObject({ t: "err", code: "RESOURCE_NOT_FOUND" });
    client.close();
  } finally {
    await r.stop();
  }
}, 30_000);

import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startServer, type TestServer } from "../helpers/server.ts";
import { docBlocks, makeSandbox, ROOT, runBlock, startBackground, where, writeFileBlock, type Background, type BlockRun } from "./doc-blocks.ts";

/**
 * The README runner: every block marked `runnable` in these documents runs as
 * written (bash, the PATH of a user after `npm install`, a fresh-clone sandbox)
 * against a real development server this test starts, in document order.
 * `localhost:8080` in a command is pointed at that server's port, and PORT is set to it.
 */
const DOCS = ["README.md", "src/client/README.md", "bench/README.md", "deploy/local-cluster/README.md"];

let sandbox: string;
let server: TestServer;
beforeAll(async () => {
  sandbox = makeSandbox();
  server = await startServer({ env: { NODE_ENV: "development", JWT_SECRET: "", API_KEYS: "", HOST: "0.0.0.0" }, dataDir: join(sandbox, "data") });
});
afterAll(async () => {
  await server?.stop();
  if (sandbox) rmSync(sandbox, { recursive: true, force: true });
});

/** Runs a document's blocks in order; background blocks are stopped at the end. */
async function runDoc(doc: string): Promise<{ runs: BlockRun[]; background: Background[] }> {
  const runs: BlockRun[] = [];
  const background: Background[] = [];
  try {
    for (const block of docBlocks(doc)) {
      if (block.file) writeFileBlock(block, sandbox, server.port);
      if (!block.runnable) continue;
      if (block.background) {
        background.push(await startBackground(block, sandbox, server.port));
        continue;
      }
      const run = await runBlock(block, sandbox, server.port);
      expect(run.code, `${where(block)} failed (exit ${run.code}):\n${block.body}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`).toBe(0);
      runs.push(run);
    }
  } finally {
    for (const b of background) await b.stop();
  }
  return { runs, background };
}

function jwtClaims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

test("every document the issue names has runnable blocks, and only known markers", () => {
  for (const doc of DOCS) {
    const blocks = docBlocks(doc);
    expect(blocks.some((b) => b.runnable), `${doc} has no runnable block`).toBe(true);
    for (const b of blocks.filter((b) => b.runnable)) {
      expect(b.lang, `${where(b)}: runnable blocks are shell`).toBe("sh");
      expect(b.body, `${where(b)}: the runner starts the server itself`).not.toMatch(/^\s*npm (start|test)\b/m);
      if (b.background) expect(b.until, `${where(b)}: a background block says what it waits for (until=…)`).toBeDefined();
    }
  }
});

test("README.md: the tour's publication reaches the listener, in the dev tenant, and the tokens are the documented ones", async () => {
  const { runs, background } = await runDoc("README.md");
  const [listener] = background;
  const lines = listener!.output().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines[0]).toMatchObject({ t: "hello", user: "alice", tenant: "acme" });
  expect(lines[1]).toMatchObject({ t: "ok", id: 1, off: "0" });
  expect(lines.find((l) => l.t === "msg")).toMatchObject({ ch: "room:lobby", off: "1", ev: "hello", data: { text: "hi" } });

  const curl = runs.find((r) => r.block.body.includes("/v1/publish"))!;
  expect(JSON.parse(curl.stdout)).toEqual({ off: "1" });

  const tokens = runs.find((r) => r.block.body.includes("npm run -s token -- --sub bob"))!;
  const [bob, carol] = tokens.stdout.trim().split("\n").map(jwtClaims);
  expect(bob).toMatchObject({ sub: "bob", tenant: "acme", roles: ["nurse"], rooms: ["lobby"] });
  expect(carol).toMatchObject({ sub: "carol", tenant: "acme", rooms: ["lobby", "ward"] });
  expect(carol!.roles).toBeUndefined();
  expect((carol!.exp as number) - (carol!.iat as number)).toBe(1800);
}, 60_000);

test("src/client/README.md: every runnable block runs as written", async () => {
  const { runs } = await runDoc("src/client/README.md");
  expect(runs.length).toBeGreaterThan(0);
}, 180_000);

test("bench/README.md: the quick bench prints its table, writes its own files and leaves RESULTS.md alone", async () => {
  const results = join(ROOT, "bench/RESULTS.md");
  const before = readFileSync(results, "utf8");
  const { runs } = await runDoc("bench/README.md");
  const quick = runs.find((r) => r.block.body.includes("npm run bench"))!;
  expect(quick.stdout).toContain("| switchboard |");
  const wrote = /wrote (\S+)\.\{json,md,html\} \(bench\/RESULTS\.md unchanged/.exec(quick.stderr);
  expect(wrote, quick.stderr).not.toBeNull();
  expect(existsSync(`${wrote![1]}.json`)).toBe(true);
  expect(readFileSync(results, "utf8")).toBe(before);
  for (const ext of ["json", "md", "html"]) rmSync(`${wrote![1]}.${ext}`, { force: true });
}, 180_000);

test("deploy/local-cluster/README.md: the two-node cluster answers through HAProxy", async () => {
  const { runs } = await runDoc("deploy/local-cluster/README.md");
  // curl -s adds no newline: the two answers arrive as one line, as in the reader's terminal.
  expect(runs[0]!.stdout).toMatch(/^\{"status":"ready"\}\{"off":"\d+"\}$/);
}, 120_000);

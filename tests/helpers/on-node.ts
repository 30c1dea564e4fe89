/**
 * Runs a suite written for bun:test on Node too, as the same suite: the
 * entry file (which registers it through tests/helpers/suite.ts) is bundled
 * for Node with "bun:test" replaced by tests/helpers/bun-test-on-node.ts
 * (node:test + Jest's expect), run with `node`, and each case Bun registered
 * under `suite` becomes a Bun test that passes only if that case passed on
 * Node. A case that failed, or never ran there, fails `npm test` by name.
 */
import type { BunPlugin } from "bun";
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { casesUnder } from "./suite.ts";

const ROOT = resolve(import.meta.dir, "../..");

interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
}

interface NodeRun {
  code: number | null;
  results: Map<string, CaseResult>;
  output: string;
}

const bunTestOnNode: BunPlugin = {
  name: "bun:test on Node",
  setup(build) {
    build.onResolve({ filter: /^bun:test$/ }, () => ({ path: join(ROOT, "tests/helpers/bun-test-on-node.ts") }));
  },
};

/** Bundles `entry` for Node (packages stay external, resolved from node_modules as the Node build's are). */
async function bundle(entry: string): Promise<{ main: string; reporter: string; dir: string }> {
  // Two levels below the repository, like the Node build, so paths relative to the bundle resolve alike.
  const dir = join(ROOT, ".tmp", `node-suite-${process.pid}-${basename(entry, ".ts")}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const built = await Bun.build({
    entrypoints: [join(ROOT, entry), join(ROOT, "tests/helpers/node-suite-reporter.ts")],
    target: "node",
    format: "esm",
    splitting: true,
    packages: "external",
    naming: { entry: "[name].[ext]" },
    outdir: dir,
    plugins: [bunTestOnNode],
  });
  if (!built.success) throw new Error(`bundling ${entry} for Node failed:\n${built.logs.map(String).join("\n")}`);
  return { main: join(dir, basename(entry, ".ts") + ".js"), reporter: join(dir, "node-suite-reporter.js"), dir };
}

async function runOnNode(entry: string, env: Record<string, string>, timeoutMs: number): Promise<NodeRun> {
  const { main, reporter, dir } = await bundle(entry);
  const resultsFile = join(dir, "results.jsonl");
  const proc = Bun.spawn(["node", `--test-reporter=${reporter}`, `--test-reporter-destination=${resultsFile}`, "--test-reporter=spec", "--test-reporter-destination=stdout", main], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const killer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]).finally(() => clearTimeout(killer));
  const results = new Map<string, CaseResult>();
  let lines: string[] = [];
  try {
    lines = readFileSync(resultsFile, "utf8").split("\n").filter(Boolean);
  } catch {
    // No file: node never got as far as running a case; every case then reports it with the output.
  }
  for (const line of lines) {
    const r = JSON.parse(line) as CaseResult;
    results.set(r.name, r);
  }
  // Bun's test runner does not emit "exit" for process.on handlers: the bundle goes once it has answered.
  rmSync(dir, { recursive: true, force: true });
  return { code: proc.signalCode ? null : code, results, output: (out + err).slice(-6000) };
}

/**
 * Registers, after the Bun suites `suites` (top-level describe names in this
 * file, registered through tests/helpers/suite.ts), their run on Node from
 * `entry` (one node process). `env` is read when the run starts (after this
 * file's beforeAll).
 */
export function onNode(suites: string | readonly string[], entry: string, opts: { env?: () => Record<string, string>; timeoutMs?: number } = {}): void {
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const names = typeof suites === "string" ? [suites] : suites;
  // Bun runs describe bodies after the file is loaded, in order: by the time this one runs, the suites are registered.
  describe(`on Node: ${names.join(", ")}`, () => {
    const cases = names.flatMap(casesUnder);
    let run: NodeRun;
    beforeAll(async () => {
      run = await runOnNode(entry, opts.env?.() ?? {}, timeoutMs - 5000);
    }, timeoutMs);

    test("Node ran the suite's cases and no others", () => {
      expect(cases.length).toBeGreaterThan(0);
      expect([...run.results.keys()].filter((n) => !cases.includes(n))).toEqual([]);
    });

    for (const name of cases) {
      test(name, () => {
        const r = run.results.get(name);
        if (!r) throw new Error(`did not run on Node (node exited ${run.code ?? "killed"}); its output ends:\n${run.output}`);
        if (!r.ok) throw new Error(`failed on Node: ${r.error}`);
      });
    }
  });
}

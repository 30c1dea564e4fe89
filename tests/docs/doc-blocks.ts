import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = resolve(import.meta.dir, "../..");

/**
 * A fenced block of a Markdown file that the README runner acts on. The info
 * string after the language carries the marker:
 *   ```sh runnable                       run with bash; must exit 0
 *   ```sh runnable background until=TEXT start it, wait until its output contains TEXT, keep it running
 *   ```ts file=chat.ts                   write the block to chat.ts in the sandbox (for a later runnable block)
 */
export interface DocBlock {
  doc: string;
  line: number;
  lang: string;
  body: string;
  runnable: boolean;
  background: boolean;
  until: string | undefined;
  file: string | undefined;
}

export function docBlocks(doc: string): DocBlock[] {
  const text = readFileSync(join(ROOT, doc), "utf8");
  const blocks: DocBlock[] = [];
  const fence = /^```(\S*)([^\n]*)\n([\s\S]*?)^```\s*$/gm;
  for (let m = fence.exec(text); m; m = fence.exec(text)) {
    const words = m[2]!.trim().split(/\s+/).filter(Boolean);
    const attr = (name: string) => words.find((w) => w.startsWith(`${name}=`))?.slice(name.length + 1);
    blocks.push({
      doc,
      line: text.slice(0, m.index).split("\n").length,
      lang: m[1]!,
      body: m[3]!,
      runnable: words.includes("runnable"),
      background: words.includes("background"),
      until: attr("until"),
      file: attr("file"),
    });
  }
  return blocks;
}

/**
 * A directory that looks like a fresh clone after `npm install`: every
 * top-level entry of the repository linked in, but its own `data/`, so the
 * dev secrets and history the commands create are the test's alone.
 */
export function makeSandbox(): string {
  const dir = mkdtempSync(join(tmpdir(), "sb-docs-"));
  for (const name of readdirSync(ROOT)) {
    if (name === ".git" || name === "data" || name === ".tmp") continue;
    symlinkSync(join(ROOT, name), join(dir, name));
  }
  mkdirSync(join(dir, "data"));
  return dir;
}

/**
 * The PATH a user has after `npm install`: node_modules/.bin is not on it
 * (npm puts it there only for its own scripts, `npm test` included), so a
 * README that says `bun` where it means `npx bun` fails here as it would for them.
 */
export function userPath(): string {
  return (process.env.PATH ?? "")
    .split(delimiter)
    .filter((p) => !p.endsWith(`node_modules${"/"}.bin`) && !p.includes("/.bun/"))
    .join(delimiter);
}

export interface BlockRun {
  block: DocBlock;
  code: number;
  stdout: string;
  stderr: string;
}

export interface Background {
  block: DocBlock;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  output(): string;
  stop(): Promise<void>;
}

/** The block's commands as written, pointed at the test's server instead of the documented 8080. */
export function script(block: DocBlock, port: number): string {
  return block.body.replaceAll("localhost:8080", `localhost:${port}`);
}

function spawn(block: DocBlock, cwd: string, port: number) {
  // Background blocks get their own process group (setsid), so stopping one ends npm and what it started.
  const argv = ["bash", "-euo", "pipefail", "-c", script(block, port)];
  return Bun.spawn(block.background ? ["setsid", ...argv] : argv, {
    cwd,
    env: { PATH: userPath(), HOME: process.env.HOME ?? "/tmp", PORT: String(port), LANG: "C.UTF-8" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
}

/** A block that has not finished after this long hangs (a documented command that never returns): it is killed and fails. */
const HUNG_MS = 90_000;

export async function runBlock(block: DocBlock, cwd: string, port: number): Promise<BlockRun> {
  const proc = spawn(block, cwd, port);
  const hung = setTimeout(() => proc.kill("SIGKILL"), HUNG_MS);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]).finally(() => clearTimeout(hung));
  return { block, code, stdout, stderr: proc.signalCode === "SIGKILL" ? `${stderr}\n(killed: still running after ${HUNG_MS / 1000} s)` : stderr };
}

/** Starts a background block and resolves once its output contains `until` (or rejects when it exits first). */
export async function startBackground(block: DocBlock, cwd: string, port: number): Promise<Background> {
  const proc = spawn(block, cwd, port);
  let out = "";
  let err = "";
  const ready = Promise.withResolvers<void>();
  const check = () => {
    if (block.until === undefined || out.includes(block.until)) ready.resolve();
  };
  void (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stdout) {
      out += dec.decode(chunk, { stream: true });
      check();
    }
  })();
  void (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr) err += dec.decode(chunk, { stream: true });
  })();
  check();
  void proc.exited.then((code) => ready.reject(new Error(`${where(block)} exited with ${code} before printing ${block.until}:\n${out}\n${err}`)));
  await ready.promise;
  return {
    block,
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        try {
          process.kill(-proc.pid, "SIGTERM");
        } catch {
          proc.kill("SIGTERM");
        }
      }
      await proc.exited;
    },
  };
}

export function where(block: DocBlock): string {
  return `${block.doc}:${block.line}`;
}

export function writeFileBlock(block: DocBlock, cwd: string, port: number): void {
  writeFileSync(join(cwd, block.file!), script(block, port));
}

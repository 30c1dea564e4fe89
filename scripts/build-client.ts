/**
 * Builds the SDK package in src/client/dist (`npm run build:client`, and
 * `npm pack` in src/client via prepack):
 *   index.js, node.js (+ a shared chunk)  ESM for bundlers, browsers, Bun, Deno and Node
 *   switchboard-client.browser.js         one minified file for a <script type="module">
 *   *.d.ts                                declarations from tsc
 *   PROTOCOL.md                           the wire protocol the README links to
 */
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const SDK = join(ROOT, "src/client");
const DIST = join(SDK, "dist");

function check(result: Awaited<ReturnType<typeof Bun.build>>, what: string): void {
  if (result.success) return;
  for (const log of result.logs) process.stderr.write(`${String(log)}\n`);
  process.stderr.write(`build-client: the ${what} build failed\n`);
  process.exit(1);
}

rmSync(DIST, { recursive: true, force: true });
check(
  await Bun.build({
    entrypoints: [join(SDK, "index.ts"), join(SDK, "node.ts")],
    outdir: DIST,
    target: "browser",
    format: "esm",
    splitting: true,
    naming: { entry: "[name].js", chunk: "[name]-[hash].js" },
  }),
  "ESM",
);
check(
  await Bun.build({ entrypoints: [join(SDK, "index.ts")], outdir: DIST, target: "browser", format: "esm", minify: true, naming: "switchboard-client.browser.js" }),
  "browser",
);

const tsc = Bun.spawnSync([process.execPath, join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(SDK, "tsconfig.build.json")], { stdout: "inherit", stderr: "inherit" });
if (tsc.exitCode !== 0) {
  process.stderr.write("build-client: tsc could not emit the declarations\n");
  process.exit(1);
}
// The sources import "./x.ts" (Bun runs them as they are); the declarations sit beside x.js.
for (const name of readdirSync(DIST).filter((n) => n.endsWith(".d.ts"))) {
  const path = join(DIST, name);
  writeFileSync(path, readFileSync(path, "utf8").replace(/(from\s+["']\.{1,2}\/[^"']+)\.ts(["'])/g, "$1.js$2"));
}
copyFileSync(join(ROOT, "src/protocol/README.md"), join(DIST, "PROTOCOL.md"));
process.stdout.write(`built ${DIST}: ${readdirSync(DIST).sort().join(" ")}\n`);

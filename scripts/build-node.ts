/**
 * `npm run build:node [-- OUTDIR]`: the Node build, into dist/node unless told.
 *  - OUTDIR/main.js and OUTDIR/report-worker.js: src/main.ts and the report
 *    worker bundled for Node, split so that the Bun-only
 *    modules behind runtime checks (bun:sqlite, bun:jsc, Bun.serve) stay
 *    separate chunks Node never loads; packages stay external (node_modules:
 *    the native better-sqlite3 and uWebSockets.js addons cannot be bundled).
 *  - OUTDIR/pages/demo.js, OUTDIR/pages/admin.js: the demo and admin pages'
 *    browser scripts, which Bun builds on first request and Node cannot.
 * OUTDIR must sit two levels below the repository (as dist/node does): the
 * server finds package.json and the pages' HTML relative to its bundle.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { PAGES } from "../src/runtime/page-bundle.ts";

const ROOT = resolve(import.meta.dir, "..");
const out = resolve(ROOT, process.argv[2] ?? "dist/node");

function fail(what: string, logs: unknown[]): never {
  process.stderr.write(`build:node: ${what} failed:\n${logs.map(String).join("\n")}\n`);
  process.exit(1);
}

rmSync(out, { recursive: true, force: true });
// The report worker is an entry of its own (a worker thread loads it by file), flat beside main.js.
const server = await Bun.build({
  entrypoints: [join(ROOT, "src/main.ts"), join(ROOT, "src/reports/report-worker.ts")],
  target: "node",
  format: "esm",
  splitting: true,
  packages: "external",
  naming: { entry: "[name].[ext]" },
  outdir: out,
});
if (!server.success) fail("the server bundle", server.logs);
mkdirSync(join(out, "pages"), { recursive: true });
for (const [name, entry] of Object.entries(PAGES)) {
  const page = await Bun.build({ entrypoints: [join(ROOT, entry)], target: "browser", format: "esm", minify: true });
  const js = page.outputs[0];
  if (!page.success || !js) fail(`the ${name} page bundle`, page.logs);
  writeFileSync(join(out, "pages", `${name}.js`), await js.text());
}
process.stdout.write(`build:node: wrote ${out} (run it with: node --expose-gc ${join(out, "main.js")})\n`);

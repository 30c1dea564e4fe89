/**
 * `npm test`: checks that the real programs the suite starts are installed
 * (redis-server, PostgreSQL's initdb/pg_ctl, Debian's chromium), then runs `bun test` and ends with a
 * plain "N passed, N failed" line. Extra arguments go to `bun test`.
 */
import { existsSync } from "node:fs";
import { postgresBinDir } from "../tests/helpers/postgres.ts";

const missing: string[] = [];
if (!Bun.which("redis-server") || !Bun.which("redis-cli")) {
  missing.push("redis-server (the Redis engine tests start their own): apt-get install -y redis-server");
}
if (!postgresBinDir()) {
  missing.push("PostgreSQL (the record-store tests start their own with initdb + pg_ctl): apt-get install -y postgresql");
}
if (!existsSync(process.env.CHROMIUM_PATH ?? "/usr/bin/chromium")) {
  missing.push("chromium (the browser test drives Debian's chromium; no browser is downloaded): apt-get install -y chromium");
}
if (missing.length > 0) {
  process.stderr.write(`npm test needs programs that are not installed:\n  - ${missing.join("\n  - ")}\n(run as root, after apt-get update)\n`);
  process.exit(1);
}

// bunfig.toml's [test] timeout is not applied by this Bun (tests hit 5 s): say it on the command line.
const proc = Bun.spawn([process.execPath, "test", "--timeout", "60000", ...process.argv.slice(2)], {
  stdin: "ignore",
  stdout: "inherit",
  stderr: "pipe",
  env: process.env,
});
let tail = "";
const dec = new TextDecoder();
for await (const chunk of proc.stderr) {
  const text = dec.decode(chunk, { stream: true });
  process.stderr.write(text);
  tail = (tail + text).slice(-4000);
}
const code = await proc.exited;
const passed = /^\s*(\d+) pass\s*$/m.exec(tail)?.[1] ?? "0";
const failed = /^\s*(\d+) fail\s*$/m.exec(tail)?.[1] ?? (code === 0 ? "0" : "1");
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(code);

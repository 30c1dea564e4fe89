/**
 * `npm test`: checks that the real programs the suite starts are installed
 * (redis-server, PostgreSQL's initdb/pg_ctl, Debian's chromium, node ≥ 20, the
 * proxies and tools the deploy tests check configs with), then runs `bun test`
 * and ends with a plain "N passed, N failed, N skipped" line. In CI (CI=true) a
 * skipped test fails the run: a clean CI run skips nothing. Extra arguments go to `bun test`.
 */
import { existsSync } from "node:fs";
import { postgresBinDir } from "../tests/helpers/postgres.ts";

const CI = process.env.CI === "true";
const missing: string[] = [];
const node = Bun.which("node");
const nodeMajor = node ? Number(Bun.spawnSync([node, "-p", "process.versions.node.split('.')[0]"]).stdout.toString().trim()) : 0;
if (nodeMajor < 20) {
  missing.push(`node ≥ 20 (the SDK is tested from a Node process; found ${node ? `node ${nodeMajor}` : "none"}): apt-get install -y nodejs (Debian 13; on older releases install Node 20+ from nodejs.org)`);
}
if (!Bun.which("redis-server") || !Bun.which("redis-cli")) {
  missing.push("redis-server (the Redis engine tests start their own): apt-get install -y redis-server");
}
if (!postgresBinDir()) {
  missing.push("PostgreSQL (the record-store tests start their own with initdb + pg_ctl): apt-get install -y postgresql");
}
if (!Bun.which("prlimit")) {
  missing.push("prlimit (the disk-full readiness test limits the server's file size): apt-get install -y util-linux");
}
// The deploy tests check the shipped configs with the real tools and run deploy/local-cluster (so does the README runner).
const deployTools: [string, string, string][] = [
  ["haproxy", "haproxy", "haproxy -c checks deploy/haproxy; the local cluster and the README runner run it"],
  ["nginx", "nginx", "nginx -t checks deploy/nginx/nginx.conf"],
  ["openssl", "openssl", "makes the throwaway certificates the TLS configs are checked with"],
  ["systemd-analyze", "systemd", "verifies deploy/systemd/switchboard.service"],
  ["curl", "curl", "deploy/local-cluster/start.sh waits on health endpoints with it"],
];
for (const [program, pkg, why] of deployTools) {
  if (!Bun.which(program) && !existsSync(`/usr/sbin/${program}`)) missing.push(`${program} (${why}): apt-get install -y ${pkg}`);
}
if (!existsSync(process.env.CHROMIUM_PATH ?? "/usr/bin/chromium")) {
  missing.push("chromium (the browser test drives Debian's chromium; no browser is downloaded): apt-get install -y chromium");
}
if (!Bun.which("pdftotext") || !Bun.which("pdfinfo")) {
  missing.push("pdftotext and pdfinfo (the report tests read the PDFs with them): apt-get install -y poppler-utils");
}
if (missing.length > 0) {
  process.stderr.write(`npm test needs programs that are not installed:\n  - ${missing.join("\n  - ")}\n(run as root, after apt-get update)\n`);
  process.exit(1);
}

// bunfig.toml's [test] timeout is not applied by this Bun (a 5.5 s test fails at 5 s), so pass it here.
const args = process.argv.slice(2);
const timeout = args.some((a) => a.startsWith("--timeout")) ? [] : ["--timeout", "60000"];
const proc = Bun.spawn([process.execPath, "test", ...timeout, ...args], {
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
const skipped = Number(/^\s*(\d+) skip\s*$/m.exec(tail)?.[1] ?? 0) + Number(/^\s*(\d+) todo\s*$/m.exec(tail)?.[1] ?? 0);
process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
if (CI && skipped > 0 && code === 0) {
  process.stderr.write(`CI=true: ${skipped} skipped test(s); in CI every test must run (see the (skip) lines above)\n`);
  process.exit(1);
}
process.exit(code);

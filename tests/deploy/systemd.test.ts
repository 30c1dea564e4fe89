import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { envLines, read, ROOT, unitDirectives } from "./support.ts";

const UNIT = "deploy/systemd/switchboard.service";
const INSTALL_DIR = "/opt/switchboard";

test("systemd unit: SIGTERM to the server itself, a stop timeout longer than the drain, a descriptor limit for many sockets", () => {
  const d = unitDirectives(read(UNIT));
  const exec = d.get("ExecStart")![0]!;
  expect(exec).toBe(`${INSTALL_DIR}/bin/switchboard`);
  expect(existsSync(join(ROOT, exec.slice(INSTALL_DIR.length + 1)))).toBe(true);
  expect(d.get("KillSignal")).toEqual(["SIGTERM"]);
  expect(d.get("KillMode")).toEqual(["mixed"]);
  const drainMs = Number(envLines(read("deploy/systemd/switchboard.env")).DRAIN_DEADLINE_MS);
  expect(Number(d.get("TimeoutStopSec")![0]) * 1000).toBeGreaterThan(drainMs);
  expect(Number(d.get("LimitNOFILE")![0])).toBeGreaterThanOrEqual(1_000_000);
  expect(d.get("EnvironmentFile")).toEqual(["/etc/switchboard/switchboard.env"]);
});

test("systemd-analyze verify accepts the unit (installed at the repository's path)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-systemd-"));
  try {
    const file = join(dir, "switchboard.service");
    writeFileSync(file, read(UNIT).replaceAll(INSTALL_DIR, ROOT));
    const r = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.status).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);

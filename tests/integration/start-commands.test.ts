import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectDrainOnSigterm, ROOT, startCommand } from "../helpers/command.ts";

/**
 * Every documented way of starting a node drains on a SIGTERM sent to the
 * process the operator started (orchestrators signal only that one).
 */

async function drains(argv: string[], expectedExit: number, env: Record<string, string> = {}): Promise<void> {
  const s = await startCommand(argv, { env });
  try {
    expect(await expectDrainOnSigterm(s)).toBe(expectedExit);
  } finally {
    await s.cleanup();
  }
}

test("npm start: npm passes SIGTERM to the server it execs, which drains; npm exits 0", async () => {
  await drains(["npm", "start", "--silent"], 0);
}, 60_000);

test("bun src/main.ts drains and exits 0", async () => {
  await drains([join(ROOT, "node_modules/.bin/bun"), "src/main.ts"], 0);
}, 60_000);

test("the switchboard executable (package.json bin) is the server itself: drains and exits 0", async () => {
  const pkg = (await Bun.file(join(ROOT, "package.json")).json()) as { bin: Record<string, string> };
  expect(pkg.bin.switchboard).toBe("bin/switchboard");
  await drains([join(ROOT, pkg.bin.switchboard)], 0);
}, 60_000);

test("a wrapper that dies on SIGTERM without passing it on: the orphaned server notices and drains", async () => {
  // `sh -c 'cmd; …'` keeps sh as the parent and sh does not forward SIGTERM; `npx switchboard` behaves the same.
  await drains(["sh", "-c", `"${join(ROOT, "bin/switchboard")}"; echo wrapper-done`], 143);
}, 60_000);

test("the switchboard executable finds the package's own Bun: works with no bun on PATH, through a symlink (npm's bin link)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-bin-"));
  try {
    symlinkSync(join(ROOT, "bin/switchboard"), join(dir, "switchboard"));
    const s = await startCommand([join(dir, "switchboard")], { env: { PATH: "/usr/bin:/bin" } });
    try {
      expect(await expectDrainOnSigterm(s)).toBe(0);
    } finally {
      await s.cleanup();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

import { expect, test } from "bun:test";
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

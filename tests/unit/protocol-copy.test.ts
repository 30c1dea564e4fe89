import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const SHARED = join(ROOT, "../shared/PROTOCOL.md");

// The project's copy is the shared contract word for word, followed by the project's own notes.
// Outside this layout (a lone clone) there is nothing to compare with: skipped, and counted as
// skipped; in CI the layout is required, so a missing file fails.
const CI = process.env.CI === "true";
test.skipIf(!CI && !existsSync(SHARED))("src/protocol/README.md starts with shared/PROTOCOL.md verbatim", () => {
  if (!existsSync(SHARED)) throw new Error(`${SHARED} is missing: CI checks the protocol copy against the shared contract`);
  const shared = readFileSync(SHARED, "utf8");
  const ours = readFileSync(join(ROOT, "src/protocol/README.md"), "utf8");
  expect(ours.slice(0, shared.length)).toBe(shared);
  expect(ours.slice(shared.length)).toContain("## Switchboard specifics");
});

test("the project's protocol copy names every error code the server uses", async () => {
  const { ERROR_CODES } = await import("../../src/protocol/codes.ts");
  const ours = readFileSync(join(ROOT, "src/protocol/README.md"), "utf8");
  for (const code of ERROR_CODES) expect(ours).toContain(`\`${code}\``);
});

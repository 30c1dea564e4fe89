import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const SHARED = join(ROOT, "../shared/PROTOCOL.md");

// The project's copy is the shared contract word for word, followed by the project's own notes.
test.if(existsSync(SHARED))("src/protocol/README.md starts with shared/PROTOCOL.md verbatim", () => {
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

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SwitchboardError } from "../protocol/errors.ts";

/** The browser pages the server hands out, by name: their script's entry, from the repository root. */
export const PAGES = { demo: "src/client/demo/app.ts", "demo-call": "src/client/demo/call-app.ts", admin: "src/transport/http/admin/page/app.ts" } as const;

/**
 * The repository root: this file is two levels below it, and so is the Node
 * bundle (dist/node/), whichever of the two is running.
 */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A file of the repository (a page's HTML), found from the source tree and from the Node build alike. */
export function repoPath(relative: string): string {
  return join(ROOT, relative);
}

/**
 * A page's browser script: built from source with Bun.build on Bun; on Node
 * (no bundler at run time) the one `npm run build:node` wrote beside the
 * server bundle (pages/<name>.js).
 */
export async function pageScript(name: keyof typeof PAGES): Promise<string> {
  if (typeof Bun === "undefined") return readFile(fileURLToPath(new URL(`./pages/${name}.js`, import.meta.url)), "utf8");
  const result = await Bun.build({ entrypoints: [repoPath(PAGES[name])], target: "browser", format: "esm", minify: true });
  const out = result.outputs[0];
  if (!result.success || !out) throw new SwitchboardError("INTERNAL_ERROR", `${name} page bundle failed`, { cause: result.logs });
  return out.text();
}

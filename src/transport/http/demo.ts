import type { Hono } from "hono";
import { fileURLToPath } from "node:url";
import { SwitchboardError } from "../../protocol/errors.ts";

const DEMO_DIR = fileURLToPath(new URL("../../client/demo/", import.meta.url));
const NAME = /^[A-Za-z0-9_.@=-]{1,64}$/;

export interface DemoOptions {
  mintDevToken: (claims: { sub: string; tenant?: string; roles?: string[]; rooms?: string[] }) => Promise<string>;
}

/**
 * The development demo: GET /demo (page), /demo/client.js (the SDK bundled
 * for browsers on first request, then served from memory) and /demo/token
 * (a dev token for `sub` with `room` in its rooms claim). Mount it only
 * outside production: the token route hands out tokens to anyone.
 */
export function mountDemo(app: Hono<any>, opts: DemoOptions): void {
  let bundle: Promise<string> | undefined;

  app.get("/demo", async (c) => c.html(await Bun.file(DEMO_DIR + "index.html").text()));

  app.get("/demo/client.js", async (c) => {
    bundle ??= buildBundle().catch((err: unknown) => {
      bundle = undefined; // retry the build on the next request
      throw err;
    });
    return c.body(await bundle, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" });
  });

  app.get("/demo/token", async (c) => {
    const sub = c.req.query("sub") ?? "";
    const room = c.req.query("room");
    if (!NAME.test(sub)) throw new SwitchboardError("VALIDATION_ERROR", "sub must be 1-64 characters of [A-Za-z0-9_.@=-]");
    if (room !== undefined && !NAME.test(room)) throw new SwitchboardError("VALIDATION_ERROR", "room must be 1-64 characters of [A-Za-z0-9_.@=-]");
    const token = await opts.mintDevToken({ sub, rooms: room === undefined ? [] : [room] });
    return c.json({ token }, 200, { "cache-control": "no-store" });
  });
}

async function buildBundle(): Promise<string> {
  const result = await Bun.build({ entrypoints: [DEMO_DIR + "app.ts"], target: "browser", format: "esm", minify: true });
  const out = result.outputs[0];
  if (!result.success || !out) throw new SwitchboardError("INTERNAL_ERROR", "demo bundle failed", { cause: result.logs });
  return out.text();
}

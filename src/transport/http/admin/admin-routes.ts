import type { Hono, MiddlewareHandler } from "hono";
import { streamSSE } from "hono/streaming";
import { readFile } from "node:fs/promises";
import * as v from "valibot";
import type { ServerApi } from "../../../hub/server-api.ts";
import type { Logger } from "../../../observability/logger.ts";
import type { NodeStats } from "../../../observability/node-stats.ts";
import { SwitchboardError } from "../../../protocol/errors.ts";
import { bearerMatches } from "../bearer-key.ts";
import { readJson } from "../errors.ts";
import { pageScript, repoPath } from "../../../runtime/page-bundle.ts";

const PAGE_DIR = repoPath("src/transport/http/admin/page/");
const PUSH_MS = 1000;

export interface AdminDeps {
  /** ADMIN_DASHBOARD_KEY: every data route needs `Authorization: Bearer <key>`. */
  key: string;
  stats: NodeStats;
  api: ServerApi;
  logger: Logger;
}

const DisconnectBody = v.strictObject({ tenant: v.optional(v.string()), user: v.pipe(v.string(), v.minLength(1, "user: is required"), v.maxLength(256)) });

function requireKey(key: string): MiddlewareHandler {
  const expected = Buffer.from(key);
  return async (c, next) => {
    if (!bearerMatches(c.req.header("authorization"), expected)) throw new SwitchboardError("AUTHENTICATION_FAILED", "the admin dashboard needs Authorization: Bearer <ADMIN_DASHBOARD_KEY>");
    await next();
  };
}

/**
 * The admin dashboard: GET /admin (the page; it holds no data), /admin/app.js
 * (page/app.ts, built on first request on Bun, prebuilt by build:node for Node), and behind the
 * key: /admin/api/stream (server-sent events, every node's figures each
 * second), /admin/api/presence and POST /admin/api/disconnect.
 */
export function mountAdmin(app: Hono<any>, d: AdminDeps): void {
  let bundle: Promise<string> | undefined;
  app.get("/admin", async (c) => c.html(await readFile(PAGE_DIR + "index.html", "utf8"), 200, { "cache-control": "no-store" }));
  app.get("/admin/app.js", async (c) => {
    bundle ??= pageScript("admin").catch((err: unknown) => {
      bundle = undefined;
      throw err;
    });
    return c.body(await bundle, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" });
  });
  app.use("/admin/api/*", requireKey(d.key));
  app.get("/admin/api/stream", (c) =>
    streamSSE(c, async (stream) => {
      let open = true;
      stream.onAbort(() => {
        open = false;
      });
      while (open) {
        await stream.writeSSE({ event: "cluster", data: JSON.stringify({ at: Date.now(), nodes: await d.stats.cluster() }) });
        await stream.sleep(PUSH_MS);
      }
    }),
  );
  app.get("/admin/api/presence", async (c) => {
    const ch = c.req.query("ch") ?? "";
    if (!/^[^\s/]{1,255}$/.test(ch)) throw new SwitchboardError("VALIDATION_ERROR", "ch: a channel name is required");
    const tenant = c.req.query("tenant") || undefined;
    return c.json({ ch, tenant: tenant ?? "", members: await d.api.presence(tenant, ch) });
  });
  app.post("/admin/api/disconnect", async (c) => {
    const r = v.safeParse(DisconnectBody, await readJson(c));
    if (!r.success) throw new SwitchboardError("VALIDATION_ERROR", r.issues[0].message);
    const closed = await d.api.disconnect(r.output.tenant || undefined, r.output.user, "disconnected by an administrator");
    d.logger.audit("admin_disconnect", { tenant: r.output.tenant ?? "", user: r.output.user, closed });
    return c.json({ closed });
  });
}

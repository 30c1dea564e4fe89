import type { Hono } from "hono";
import { fileURLToPath } from "node:url";
import type { ErrorCode } from "../../protocol/codes.ts";
import { SwitchboardError } from "../../protocol/errors.ts";

const DEMO_DIR = fileURLToPath(new URL("../../client/demo/", import.meta.url));
const NAME = /^[A-Za-z0-9_.@=-]{1,64}$/;

export interface DemoOptions {
  mintDevToken: (claims: { sub: string; tenant?: string; roles?: string[]; rooms?: string[] }) => Promise<string>;
  /** The tenant of the dev tokens: the demo's conversations and notifications live there. */
  tenant: string;
  /** A key of this node's server HTTP API: the demo sets up its conversation and notifications through it, as a backend would. */
  apiKey: string;
}

function name(value: string | undefined, field: string): string {
  if (value === undefined || !NAME.test(value)) throw new SwitchboardError("VALIDATION_ERROR", `${field} must be 1-64 characters of [A-Za-z0-9_.@=-]`);
  return value;
}

/**
 * The development demo: GET /demo (page), /demo/client.js (the SDK bundled
 * for browsers on first request, then served from memory), /demo/call and
 * /demo/call.js (the two-party call page), /demo/token (a
 * dev token for `sub` with `room` in its rooms claim; `sub` also becomes a
 * member of the room's conversation `chat:<room>`) and POST /demo/notify (a
 * sample notification for `sub`). Mount it only outside production: these
 * routes hand out tokens and use the server API for anyone.
 */
export function mountDemo(app: Hono<any>, opts: DemoOptions): void {
  const bundles = new Map<string, Promise<string>>();
  /** The SDK and a page's script bundled for browsers on first request, then served from memory. */
  const script = (entry: string) => async (c: import("hono").Context) => {
    let bundle = bundles.get(entry);
    if (!bundle) {
      bundle = buildBundle(entry);
      bundles.set(entry, bundle);
      bundle.catch(() => bundles.delete(entry)); // retry the build on the next request
    }
    return c.body(await bundle, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" });
  };
  // Through the app itself, so the demo goes through the same API key, validation and audit as a backend.
  const api = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await app.request("/v1" + path, {
      method,
      headers: { authorization: `Bearer ${opts.apiKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as { error?: { code: string; message: string } };
    if (!res.ok) throw new SwitchboardError((json.error?.code ?? "INTERNAL_ERROR") as ErrorCode, json.error?.message ?? `server API answered ${res.status}`);
    return json;
  };
  // Membership changes one after the other: two tabs joining at once must not drop each other from the member list.
  let membership: Promise<unknown> = Promise.resolve();
  const join = (room: string, sub: string): Promise<string[]> => {
    const next = membership.then(async () => {
      const path = `/conversations/${encodeURIComponent(room)}`;
      const known = await api("GET", `${path}?tenant=${encodeURIComponent(opts.tenant)}`).then(
        (c: { members: string[] }) => c.members,
        (err: unknown) => {
          if (err instanceof SwitchboardError && err.code === "RESOURCE_NOT_FOUND") return [] as string[];
          throw err;
        },
      );
      if (known.includes(sub)) return known;
      const res = (await api("PUT", path, { tenant: opts.tenant, members: [...known, sub], title: `Demo room ${room}` })) as { members: string[] };
      return res.members;
    });
    membership = next.catch(() => {});
    return next;
  };

  app.get("/demo", async (c) => c.html(await Bun.file(DEMO_DIR + "index.html").text()));

  app.get("/demo/client.js", script("app.ts"));
  // The two-party call page: invite, ring, accept or reject, video both ways through the call relay, hang up.
  app.get("/demo/call", async (c) => c.html(await Bun.file(DEMO_DIR + "call.html").text()));
  app.get("/demo/call.js", script("call-app.ts"));

  app.get("/demo/token", async (c) => {
    const sub = name(c.req.query("sub"), "sub");
    const room = c.req.query("room");
    if (room !== undefined) name(room, "room");
    const members = room === undefined ? [] : await join(room, sub);
    const token = await opts.mintDevToken({ sub, rooms: room === undefined ? [] : [room] });
    return c.json({ token, members }, 200, { "cache-control": "no-store" });
  });

  app.post("/demo/notify", async (c) => {
    const sub = name(c.req.query("sub"), "sub");
    const { ids } = (await api("POST", "/notifications", {
      tenant: opts.tenant,
      users: [sub],
      type: "demo",
      title: "Lab results ready for bed 4",
      body: "Potassium 4.1 mmol/L, within range. Posted by the demo through POST /v1/notifications.",
      priority: "normal",
    })) as { ids: string[] };
    return c.json({ ids }, 200, { "cache-control": "no-store" });
  });
}

async function buildBundle(entry: string): Promise<string> {
  const result = await Bun.build({ entrypoints: [DEMO_DIR + entry], target: "browser", format: "esm", minify: true });
  const out = result.outputs[0];
  if (!result.success || !out) throw new SwitchboardError("INTERNAL_ERROR", "demo bundle failed", { cause: result.logs });
  return out.text();
}

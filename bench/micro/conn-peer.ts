/**
 * A bun-raw that adds, one by one, what Switchboard does per connection, to
 * find where Switchboard's extra memory per idle connection goes (run by
 * bench/micro/conn-memory.ts as `peer:<parts>`). It always answers with
 * `hello` and subscribes to `<tenant>/<ch>`, so it speaks the switchboard
 * dialect. PARTS (comma-separated):
 *   auth   the upgrade's bearer token checked by Switchboard's TokenVerifier (the principal kept)
 *   data   a ConnData-sized object (17 fields) as ws.data
 *   maps   the connection in a Set and the user in two Maps and a presence Map, as the hub and engine keep them
 *   garbage  short-lived allocations per connect and per frame (strings, objects, promises), roughly as many as Switchboard's path makes
 */
import { TokenVerifier } from "../../src/hub/token-verifier.ts";
import type { ServerWebSocket } from "bun";

const parts = new Set((process.env.PARTS ?? "").split(",").filter(Boolean));
const verifier = new TokenVerifier({ secret: process.env.JWT_SECRET!, algorithm: "ES256", requireExp: true, claimNames: ["rooms", "students", "cases", "calls"] });
const conns = new Set<unknown>();
const byUser = new Map<string, unknown>();
const leases = new Map<string, number>();
const members = new Map<number, string>();
let next = 1;
let sink: unknown;

/** Short-lived objects and strings, dropped at once (what a request path leaves to the collector). */
function garbage(tag: string, n: number): void {
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const s = JSON.stringify({ t: "x", id: i, ch: tag, n: next });
    out.push(s.slice(3), { s, i, tag }, Promise.resolve(i));
  }
  sink = out;
}

type Data = Record<string, unknown> | undefined;

const server = Bun.serve<Data>({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === "/health/ready") return new Response("ok");
    let p: { sub: string; tenant: string } | undefined;
    if (parts.has("auth")) p = verifier.verifyNow(req.headers.get("authorization")!.slice(7)) as { sub: string; tenant: string };
    if (parts.has("garbage")) garbage(req.url, 20);
    const now = Date.now();
    const data: Data = parts.has("data")
      ? { id: next++, principal: p, tokens: 100, refillAt: now, errors: 0, errorsAt: now, subs: 0, present: null, userKey: "", flags: 0, preauth: undefined, early: null, openedAt: now, closing: false, seenAt: now, pingedAt: 0, clientIp: undefined }
      : p ? { principal: p } : undefined;
    if (srv.upgrade(req, { data })) return;
    return new Response("upgrade failed", { status: 400 });
  },
  websocket: {
    idleTimeout: 120,
    open(ws: ServerWebSocket<Data>) {
      const p = ws.data?.principal as { sub: string; tenant: string } | undefined;
      if (parts.has("maps") && p) {
        const userKey = p.tenant + "/" + p.sub;
        if (ws.data) ws.data.userKey = userKey;
        conns.add(ws);
        byUser.set(userKey, ws);
        leases.set(userKey, 1);
        members.set(next++, p.sub);
      }
      ws.send('{"t":"hello","conn":"x","user":"u"}');
    },
    message(ws: ServerWebSocket<Data>, raw) {
      const f = JSON.parse(raw as string) as { t: string; id: number; ch: string };
      if (parts.has("garbage")) garbage(f.ch, 10);
      if (f.t === "sub") {
        ws.subscribe("t1/" + f.ch);
        ws.send(`{"t":"ok","id":${f.id},"off":"0","recovered":true,"missed":0}`);
      }
    },
  },
});
console.log(JSON.stringify({ level: "info", msg: "listening", port: server.port, sink: typeof sink }));
const ppid = Number(process.env.BENCH_PARENT_PID ?? 0);
if (ppid > 0) setInterval(() => { try { process.kill(ppid, 0); } catch { process.exit(0); } }, 1000).unref();
process.on("SIGTERM", () => process.exit(0));

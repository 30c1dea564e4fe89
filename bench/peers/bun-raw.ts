/**
 * bun-raw: the floor. Bare Bun.serve with native topic pub/sub and the same
 * JSON frame shapes as Switchboard (sub → ok, pub → ok + one `msg` frame
 * encoded once and fanned out with server.publish), no auth, no validation,
 * no history. POST /v1/publish publishes the same way.
 */
import type { ServerWebSocket } from "bun";

type Frame = { t?: string; id?: number; ch?: string; ev?: string; data?: unknown };

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  async fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === "/v1/ws") {
      if (srv.upgrade(req)) return;
      return new Response("upgrade failed", { status: 400 });
    }
    if (url.pathname === "/v1/publish" && req.method === "POST") {
      const b = (await req.json()) as Frame;
      srv.publish(b.ch!, JSON.stringify({ t: "msg", ch: b.ch, ev: b.ev, data: b.data, ts: Date.now() }));
      return Response.json({ off: "0" });
    }
    if (url.pathname === "/health/ready") return new Response("ok");
    return new Response("not found", { status: 404 });
  },
  websocket: {
    idleTimeout: 120,
    maxPayloadLength: 1 << 20,
    message(ws: ServerWebSocket<undefined>, raw) {
      const f = JSON.parse(raw as string) as Frame;
      if (f.t === "pub") {
        server.publish(f.ch!, JSON.stringify({ t: "msg", ch: f.ch, ev: f.ev, data: f.data, ts: Date.now() }));
        ws.send(`{"t":"ok","id":${f.id}}`);
      } else if (f.t === "sub") {
        ws.subscribe(f.ch!);
        ws.send(`{"t":"ok","id":${f.id}}`);
      }
    },
  },
});

console.log(JSON.stringify({ level: "info", msg: "listening", port: server.port, node: "bun-raw" }));
const ppid = Number(process.env.BENCH_PARENT_PID ?? 0);
// Exit with the bench even when it was killed without a chance to clean up.
if (ppid > 0) setInterval(() => { try { process.kill(ppid, 0); } catch { process.exit(0); } }, 1000).unref();
// A clean exit on SIGTERM lets `--cpu-prof` (BENCH_SERVER_FLAGS) write its profile.
process.on("SIGTERM", () => process.exit(0));

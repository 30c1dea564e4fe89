/**
 * lossy-peer: a deliberately broken target, to prove the bench flags what it
 * should. It speaks bun-raw's frames but sends each publication to each
 * subscriber itself and, by a fixed pattern, drops one delivery in ten and
 * sends one in twenty twice. A bench run against it must come out flagged
 * (missing and duplicate deliveries), never as a latency table. Not a
 * default target: `npm run bench -- fanout --targets lossy-peer`.
 */
import type { ServerWebSocket } from "bun";

type Frame = { t?: string; id?: number; ch?: string; ev?: string; data?: unknown };

const rooms = new Map<string, Set<ServerWebSocket<undefined>>>();
let deliveries = 0;

function fanOut(ch: string, frame: string): void {
  for (const ws of rooms.get(ch) ?? []) {
    const k = deliveries++;
    if (k % 10 === 3) continue;
    ws.send(frame);
    if (k % 20 === 7) ws.send(frame);
  }
}

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
      fanOut(b.ch!, JSON.stringify({ t: "msg", ch: b.ch, ev: b.ev, data: b.data, ts: Date.now() }));
      return Response.json({ off: "0" });
    }
    if (url.pathname === "/health/ready") return new Response("ok");
    return new Response("not found", { status: 404 });
  },
  websocket: {
    idleTimeout: 120,
    message(ws: ServerWebSocket<undefined>, raw) {
      const f = JSON.parse(raw as string) as Frame;
      if (f.t === "pub") {
        fanOut(f.ch!, JSON.stringify({ t: "msg", ch: f.ch, ev: f.ev, data: f.data, ts: Date.now() }));
        ws.send(`{"t":"ok","id":${f.id}}`);
      } else if (f.t === "sub") {
        let room = rooms.get(f.ch!);
        if (!room) rooms.set(f.ch!, (room = new Set()));
        room.add(ws);
        ws.send(`{"t":"ok","id":${f.id}}`);
      }
    },
    close(ws: ServerWebSocket<undefined>) {
      for (const room of rooms.values()) room.delete(ws);
    },
  },
});

console.log(JSON.stringify({ level: "info", msg: "listening", port: server.port, node: "lossy-peer" }));
const ppid = Number(process.env.BENCH_PARENT_PID ?? 0);
if (ppid > 0) setInterval(() => { try { process.kill(ppid, 0); } catch { process.exit(0); } }, 1000).unref();
process.on("SIGTERM", () => process.exit(0));

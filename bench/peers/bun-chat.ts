/**
 * bun-chat: the physical floor of this stack, Bun's bare chat server as in
 * its own benchmark (oven-sh/bun bench/websocket-server): every connection
 * joins the one room on open and each text it sends is published to the room
 * as it is, with publishText: no JSON, no acks, no auth. The bench client
 * puts the room, its sender id and a sequence in the text itself, so the
 * harness can still check every delivery.
 */
import type { ServerWebSocket } from "bun";

const ROOM = "room";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  fetch(req, srv) {
    if (new URL(req.url).pathname === "/health/ready") return new Response("ok");
    if (srv.upgrade(req)) return;
    return new Response("upgrade failed", { status: 400 });
  },
  websocket: {
    idleTimeout: 120,
    perMessageDeflate: false,
    publishToSelf: true,
    open(ws: ServerWebSocket<undefined>) {
      ws.subscribe(ROOM);
    },
    message(ws: ServerWebSocket<undefined>, msg: string | Buffer) {
      ws.publishText(ROOM, msg as string);
    },
  },
});

console.log(JSON.stringify({ level: "info", msg: "listening", port: server.port, node: "bun-chat" }));
const ppid = Number(process.env.BENCH_PARENT_PID ?? 0);
// Exit with the bench even when it was killed without a chance to clean up.
if (ppid > 0) setInterval(() => { try { process.kill(ppid, 0); } catch { process.exit(0); } }, 1000).unref();
// A clean exit on SIGTERM lets `--cpu-prof` (BENCH_SERVER_FLAGS) write its profile.
process.on("SIGTERM", () => process.exit(0));

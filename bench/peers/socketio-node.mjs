// socketio-node / socketio-redis: Socket.IO v4 with rooms. In memory by
// default; with REDIS_URL set it uses @socket.io/redis-streams-adapter (one
// Redis stream shared by every node). Events: "sub" (ack) joins a room,
// "pub" (ack) emits "msg" to the room, POST /v1/publish does the same.
import { createServer } from "node:http";
import { Server } from "socket.io";

const http = createServer();
const opts = { serveClient: false, transports: ["websocket", "polling"], perMessageDeflate: false, pingInterval: 25_000, pingTimeout: 60_000 };
if (process.env.REDIS_URL) {
  const { default: Redis } = await import("ioredis");
  const { createAdapter } = await import("@socket.io/redis-streams-adapter");
  opts.adapter = createAdapter(new Redis(process.env.REDIS_URL), { streamName: "bench-sio" });
}
const io = new Server(http, opts);

function publish(f) {
  io.to(f.ch).emit("msg", { ch: f.ch, ev: f.ev, data: f.data, ts: Date.now() });
}

io.on("connection", (socket) => {
  socket.on("sub", (ch, ack) => {
    socket.join(ch);
    if (typeof ack === "function") ack(true);
  });
  socket.on("pub", (f, ack) => {
    publish(f);
    if (typeof ack === "function") ack({ off: "0" });
  });
});

http.on("request", (req, res) => {
  if (req.url.startsWith("/socket.io")) return;
  if (req.method === "POST" && req.url === "/v1/publish") {
    const parts = [];
    req.on("data", (c) => parts.push(c));
    req.on("end", () => {
      publish(JSON.parse(Buffer.concat(parts).toString()));
      res.writeHead(200, { "content-type": "application/json" }).end('{"off":"0"}');
    });
    return;
  }
  if (req.url === "/health/ready") return void res.end("ok");
  res.writeHead(404).end();
});
http.keepAliveTimeout = 60_000;

http.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ level: "info", msg: "listening", port: http.address().port, node: process.env.REDIS_URL ? "socketio-redis" : "socketio-node" }));
});
const ppid = Number(process.env.BENCH_PARENT_PID || 0);
if (ppid > 0) setInterval(() => { try { process.kill(ppid, 0); } catch { process.exit(0); } }, 1000).unref();

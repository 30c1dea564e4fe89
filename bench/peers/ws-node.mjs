// ws-node: Node 20 http + ws, same frame shapes as bun-raw. ws has no topics,
// so rooms are Sets and a publication is encoded once to a Buffer and sent to
// each member (the usual ws broadcast loop).
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const rooms = new Map();
function publish(f) {
  const set = rooms.get(f.ch);
  if (!set) return;
  const buf = Buffer.from(JSON.stringify({ t: "msg", ch: f.ch, ev: f.ev, data: f.data, ts: Date.now() }));
  for (const ws of set) ws.send(buf, { binary: false });
}

const http = createServer((req, res) => {
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

const wss = new WebSocketServer({ server: http, path: "/v1/ws", perMessageDeflate: false, clientTracking: false });
wss.on("connection", (ws) => {
  const mine = [];
  ws.on("message", (raw) => {
    const f = JSON.parse(raw.toString());
    if (f.t === "pub") {
      publish(f);
      ws.send(`{"t":"ok","id":${f.id}}`);
    } else if (f.t === "sub") {
      let set = rooms.get(f.ch);
      if (!set) rooms.set(f.ch, (set = new Set()));
      set.add(ws);
      mine.push(f.ch);
      ws.send(`{"t":"ok","id":${f.id}}`);
    }
  });
  ws.on("close", () => { for (const ch of mine) rooms.get(ch)?.delete(ws); });
  ws.on("error", () => {});
});

http.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ level: "info", msg: "listening", port: http.address().port, node: "ws-node" }));
});
const ppid = Number(process.env.BENCH_PARENT_PID || 0);
if (ppid > 0) setInterval(() => { try { process.kill(ppid, 0); } catch { process.exit(0); } }, 1000).unref();

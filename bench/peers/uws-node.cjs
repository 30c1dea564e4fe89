// uws-node: uWebSockets.js on Node 20 (@trufflesuite/uws-js-unofficial), same
// frame shapes as bun-raw: JSON.parse per client frame, one JSON.stringify per
// publication fanned out with app.publish, ok acks, no auth.
"use strict";
const uws = require("@trufflesuite/uws-js-unofficial");
const dec = new TextDecoder();
const app = uws.App();

function publish(f) {
  app.publish(f.ch, JSON.stringify({ t: "msg", ch: f.ch, ev: f.ev, data: f.data, ts: Date.now() }), false);
}

app
  .ws("/v1/ws", {
    idleTimeout: 120,
    maxPayloadLength: 1 << 20,
    maxBackpressure: 64 << 20,
    message(ws, msg) {
      const f = JSON.parse(dec.decode(msg));
      if (f.t === "pub") {
        publish(f);
        ws.send(`{"t":"ok","id":${f.id}}`, false);
      } else if (f.t === "sub") {
        ws.subscribe(f.ch);
        ws.send(`{"t":"ok","id":${f.id}}`, false);
      }
    },
  })
  .post("/v1/publish", (res) => {
    const parts = [];
    res.onAborted(() => { res.aborted = true; });
    res.onData((chunk, last) => {
      parts.push(Buffer.from(chunk));
      if (!last) return;
      publish(JSON.parse(Buffer.concat(parts).toString()));
      if (!res.aborted) res.cork(() => res.writeHeader("content-type", "application/json").end('{"off":"0"}'));
    });
  })
  .get("/health/ready", (res) => res.end("ok"))
  .listen("127.0.0.1", Number(process.env.PORT || 0), (ls) => {
    if (!ls) { console.error("listen failed"); process.exit(1); }
    console.log(JSON.stringify({ level: "info", msg: "listening", port: uws.us_socket_local_port(ls), node: "uws-node" }));
  });

const ppid = Number(process.env.BENCH_PARENT_PID || 0);
if (ppid > 0) setInterval(() => { try { process.kill(ppid, 0); } catch { process.exit(0); } }, 1000).unref();

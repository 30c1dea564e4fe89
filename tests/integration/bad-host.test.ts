import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { RUNTIMES, startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

/** Writes `head` on a fresh connection and resolves with the status line and the body of the answer ("" when the connection closed unanswered). */
function raw(port: number, head: string): Promise<{ status: string; body: string }> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const s = connect(port, "127.0.0.1", () => s.write(head));
    const done = () => {
      const at = buf.indexOf("\r\n\r\n");
      resolve({ status: buf.slice(0, buf.indexOf("\r\n")), body: at < 0 ? "" : buf.slice(at + 4) });
    };
    s.on("data", (d) => {
      buf += d.toString("latin1");
      // Every answer here is one small JSON body with a Content-Length.
      const len = /content-length:\s*(\d+)/i.exec(buf);
      const at = buf.indexOf("\r\n\r\n");
      if (len && at >= 0 && buf.length - at - 4 >= Number(len[1])) {
        s.destroy();
        done();
      }
    });
    s.on("close", done);
    s.on("error", reject);
  });
}

const UPGRADE = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

// A Host header that makes no URL: the Node build built its Request outside the handler's try and the throw ended the process.
for (const runtime of RUNTIMES) describe(`a Host that makes no URL, on ${runtime}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ runtime });
  });
  afterAll(async () => {
    await s.stop();
  });

  test("an upgrade to /v1/ws and a plain GET are answered 500 INTERNAL_ERROR JSON, and the server goes on serving", async () => {
    for (const head of [`GET /v1/ws HTTP/1.1\r\nHost: a b\r\n${UPGRADE}\r\n`, "GET /health/ready HTTP/1.1\r\nHost: a b\r\n\r\n"]) {
      const r = await raw(s.port, head);
      expect(r.status).toStartWith("HTTP/1.1 500");
      expect(JSON.parse(r.body)).toEqual({ error: { code: "INTERNAL_ERROR", message: "internal error" } });
    }
    expect((await fetch(`${s.url}/health/ready`)).status).toBe(200);
    // A token on the upgrade (the path uWS answers without a Request) still gets hello.
    const client = await TestClient.connect(s.wsUrl, { headers: { authorization: `Bearer ${await token({ sub: "after-bad-host", tenant: "t1" })}` } });
    expect(await client.next((f) => f.t === "hello" || f.t === "err")).toMatchObject({ t: "hello" });
    client.close();
  });
});

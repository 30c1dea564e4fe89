import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { OP, RawWs } from "../helpers/raw-ws.ts";
import { RUNTIMES, startServer, token, type TestServer } from "../helpers/server.ts";

const IDLE_SEC = 8;

// Liveness on both transports (Bun.serve, and uWebSockets.js on Node): neither's own idle timeout may show.
for (const runtime of RUNTIMES) describe(`on ${runtime}`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ runtime, env: { WS_IDLE_TIMEOUT_SEC: String(IDLE_SEC) } });
  });
  afterAll(() => server.stop());

  async function open(user: string): Promise<{ ws: RawWs; since: number }> {
    const since = Date.now();
    const hs = await RawWs.connect(server.wsUrl, { authorization: `Bearer ${await token({ sub: user })}` });
    if (!hs.ok) throw new Error(`upgrade refused: ${hs.status} ${hs.body}`);
    await hs.ws.nextJson((f) => f.t === "hello");
    return { ws: hs.ws, since };
  }

  test("a silent client is pinged at half the idle time and closed with a 1001 close frame at the idle time; one answering pings stays", async () => {
    const silent = await open("silent");
    silent.ws.answerPings = false;
    const live = await open("live");
    expect(silent.ws.json().find((f) => f.t === "hello")?.ping).toBe(IDLE_SEC / 2);

    const ping = await silent.ws.next((f) => f.opcode === OP.PING, 20_000);
    // Lower bounds only: nothing may come early; how late it comes depends on the machine.
    expect(ping.at! - silent.since).toBeGreaterThanOrEqual((IDLE_SEC / 2) * 1000);
    expect(await silent.ws.closed).toBe(1001);
    const close = silent.ws.frames.find((f) => f.opcode === OP.CLOSE)!;
    expect(new TextDecoder().decode(close.payload.subarray(2))).toBe("idle timeout");
    expect(close.at! - silent.since).toBeGreaterThanOrEqual(IDLE_SEC * 1000);

    // The other socket was just as silent but answered its ping: still open and serving.
    expect(live.ws.frames.some((f) => f.opcode === OP.PING)).toBe(true);
    expect(live.ws.closeCode).toBeUndefined();
    live.ws.sendText(JSON.stringify({ t: "sub", id: 1, ch: "user:live" }));
    expect(await live.ws.nextJson((f) => f.id === 1)).toMatchObject({ t: "ok", id: 1 });

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('switchboard_disconnects_total{code="1001"} 1');
    expect(metrics).not.toContain('switchboard_disconnects_total{code="1006"}');
    expect(server.logs.find((l) => l.msg === "disconnect" && l.user === "silent")).toMatchObject({ audit: true, code: 1001 });
    live.ws.end();
  }, 30_000);
});

import { expect, test } from "bun:test";
import { RUNTIMES, startServer, token } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

// The log is the audit trail: under a burst, every line arrives once, whole and in order, up to the last one before exit.
for (const runtime of RUNTIMES) {
  test(`on ${runtime}: 300 connections at once log every connect, subscribe and disconnect, and the last line before exit`, async () => {
    const s = await startServer({ runtime, env: { LOG_LEVEL: "info", WS_UPGRADES_PER_IP_PER_SEC: "0", WS_MAX_UNAUTHENTICATED_PER_IP: "0" } });
    let code: number | undefined;
    try {
      const jwts = await Promise.all(Array.from({ length: 300 }, (_, i) => token({ sub: `u${i}`, tenant: "logs", rooms: ["burst"] })));
      const clients = await Promise.all(jwts.map(async (jwt) => (await TestClient.auth(s.wsUrl, jwt)).client));
      const subs = await Promise.all(clients.map((c) => c.request({ t: "sub", ch: "room:burst" })));
      expect(subs.every((f) => f.t === "ok")).toBe(true);
      for (const c of clients) c.close();
    } finally {
      code = await s.stop("SIGTERM");
    }
    expect(code).toBe(0);
    expect(s.logs.filter((l) => "raw" in l)).toEqual([]);
    const audited = (msg: string) => new Set(s.logs.filter((l) => l.audit === true && l.msg === msg && l.tenant === "logs").map((l) => l.user));
    for (const msg of ["connect", "subscribe", "disconnect"]) expect([msg, audited(msg).size]).toEqual([msg, 300]);
    // Each connection's lines in order: connect, then subscribe, then disconnect.
    const order = new Map<string, string[]>();
    for (const l of s.logs) if (l.audit === true && l.tenant === "logs" && typeof l.conn === "string") order.set(String(l.conn), [...(order.get(String(l.conn)) ?? []), String(l.msg)]);
    expect([...new Set([...order.values()].map((m) => m.join()))]).toEqual(["connect,subscribe,disconnect"]);
    expect(s.logs.at(-1)).toMatchObject({ msg: "stopped", signal: "SIGTERM" });
  }, 60_000);
}

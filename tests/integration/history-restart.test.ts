import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, token } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

test("sub with since across a server restart: recovered true with every missed message, false once trimmed", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-restart-"));
  const policy = join(dataDir, "policy.json");
  writeFileSync(
    policy,
    JSON.stringify({ namespaces: { room: { subscribe: ["claim:rooms"], publish: ["claim:rooms"], history: { size: 20, ttlSec: 3600 } } } }),
  );
  const env = { SWITCHBOARD_CONFIG: policy, WS_RATE_LIMIT_PER_SEC: "0" };
  const jwt = await token({ sub: "nurse", tenant: "school", rooms: ["ward"] });
  let s = await startServer({ dataDir, env });
  try {
    const { client } = await TestClient.auth(s.wsUrl, jwt);
    const sub = await client.request({ t: "sub", ch: "room:ward" });
    expect(sub.off).toBe("0");
    for (let i = 1; i <= 5; i++) await client.request({ t: "pub", ch: "room:ward", ev: "n", data: i });
    const seen = await client.waitCount((f) => f.t === "msg", 5);
    const lastSeen = seen[4]!.off;
    expect(lastSeen).toBe("5");
    client.close();

    // Acknowledged while the client is away, then the node restarts.
    for (let i = 6; i <= 12; i++) {
      const r = await s.api("/v1/publish", { method: "POST", json: { tenant: "school", ch: "room:ward", ev: "n", data: i } });
      expect(await r.json()).toEqual({ off: String(i) });
    }
    expect(await s.stop()).toBe(0);
    s = await startServer({ dataDir, env });

    const back = (await TestClient.auth(s.wsUrl, jwt)).client;
    const ok = await back.request({ t: "sub", ch: "room:ward", since: lastSeen });
    expect(ok).toMatchObject({ t: "ok", off: "12", recovered: true, missed: 7 });
    const missed = back.frames.filter((f) => f.t === "msg");
    expect(missed.map((f) => f.data)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    // Missed messages arrive before the ok.
    const okIndex = back.frames.indexOf(ok);
    expect(back.frames.slice(0, okIndex).filter((f) => f.t === "msg").length).toBe(7);
    // Offsets continue after the restart instead of starting over.
    expect((await back.request({ t: "pub", ch: "room:ward", ev: "n", data: 13 })).off).toBe("13");
    back.close();

    // More than the retained 20 messages go by: the old offset can no longer be recovered.
    for (let i = 14; i <= 40; i++) await s.api("/v1/publish", { method: "POST", json: { tenant: "school", ch: "room:ward", ev: "n", data: i } });
    const late = (await TestClient.auth(s.wsUrl, jwt)).client;
    const lost = await late.request({ t: "sub", ch: "room:ward", since: "12" });
    expect(lost).toMatchObject({ t: "ok", off: "40", recovered: false });
    // It still gets what is retained, and live messages afterwards.
    expect(late.frames.filter((f) => f.t === "msg").map((f) => f.data)).toEqual([...Array(20).keys()].map((i) => i + 21));
    await s.api("/v1/publish", { method: "POST", json: { tenant: "school", ch: "room:ward", ev: "n", data: 41 } });
    await late.next((f) => f.t === "msg" && f.data === 41);
    late.close();
  } finally {
    await s.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a subscriber never misses or duplicates messages published while its sub with since is being served", async () => {
  const s = await startServer({ env: { WS_RATE_LIMIT_PER_SEC: "0" } });
  try {
    const jwt = await token({ sub: "p", tenant: "t", rooms: ["busy"] });
    const pub = (await TestClient.auth(s.wsUrl, jwt)).client;
    for (let i = 1; i <= 50; i++) pub.send({ t: "pub", id: i, ch: "room:busy", ev: "n", data: i });
    await pub.waitCount((f) => f.t === "ok", 50);
    // Keep publishing while a second client recovers from offset 10.
    for (let i = 51; i <= 100; i++) pub.send({ t: "pub", id: i, ch: "room:busy", ev: "n", data: i });
    const sub = (await TestClient.auth(s.wsUrl, jwt)).client;
    await sub.request({ t: "sub", ch: "room:busy", since: "10" });
    await pub.waitCount((f) => f.t === "ok", 100);
    const msgs = await sub.waitCount((f) => f.t === "msg", 90);
    expect(msgs.map((f) => f.data)).toEqual([...Array(90).keys()].map((i) => i + 11));
    pub.close();
    sub.close();
  } finally {
    await s.stop();
  }
});

test("offsets of a channel without history keep increasing across a restart", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-nohist-"));
  const jwt = await token({ sub: "doc", tenant: "t", calls: ["c1"] });
  let s = await startServer({ dataDir });
  try {
    const a = (await TestClient.auth(s.wsUrl, jwt)).client;
    const offs: bigint[] = [];
    for (let i = 0; i < 3; i++) offs.push(BigInt((await a.request({ t: "pub", ch: "call:c1", ev: "offer", data: i })).off));
    a.close();
    await s.stop();
    s = await startServer({ dataDir });
    const b = (await TestClient.auth(s.wsUrl, jwt)).client;
    const sub = await b.request({ t: "sub", ch: "call:c1", since: String(offs[2]) });
    // Nothing is kept, so nothing can be recovered, and the server says so.
    expect(sub).toMatchObject({ t: "ok", recovered: false, missed: 0 });
    const next = BigInt((await b.request({ t: "pub", ch: "call:c1", ev: "offer", data: 3 })).off);
    expect(next > offs[2]!).toBe(true);
    b.close();
  } finally {
    await s.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

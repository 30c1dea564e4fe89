import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { token, type Runtime, type TestServer } from "../helpers/server.ts";
import { TestClient, type Frame } from "../helpers/ws-client.ts";
import { countReached, isMsg, nodeEnv, policyFile, startBackend, startNodes, type Backend, type BackendKind } from "./nodes.ts";

/**
 * Node layouts: three Bun nodes, and a mixed cluster (Node + uWebSockets.js,
 * Bun, Node + uWebSockets.js) on the same Redis: the publishers then sit on a
 * Node node and a Bun node, and subscribers on both runtimes must see one order.
 */
const LAYOUTS: { name: string; runtimes: Runtime[] }[] = [
  { name: "Bun nodes", runtimes: ["bun"] },
  { name: "mixed Node and Bun nodes", runtimes: ["node", "bun", "node"] },
];

for (const kind of (process.env.SB_KINDS ?? "standalone,cluster").split(",") as BackendKind[]) for (const layout of LAYOUTS) {
  describe(`cross-node delivery over Redis ${kind}, ${layout.name}`, () => {
    let backend: Backend;
    let nodes: TestServer[];
    const policy = policyFile();
    const clients: TestClient[] = [];

    beforeAll(async () => {
      backend = await startBackend(kind);
      nodes = await startNodes(3, nodeEnv(backend, policy.path, { REDIS_COMMAND_TIMEOUT_MS: "2000" }), layout.runtimes);
      // Each node says which transport it serves with: Bun.serve on Bun, uWebSockets.js on Node.
      const transports = nodes.map((n) => n.logs.find((l) => l.msg === "listening")?.transport);
      expect(transports).toEqual([0, 1, 2].map((i) => (layout.runtimes[i % layout.runtimes.length] === "node" ? "uws" : "bun")));
    }, 30_000);
    afterAll(async () => {
      for (const c of clients) c.close();
      await Promise.all((nodes ?? []).map((n) => n.stop()));
      await backend?.stop();
      policy.cleanup();
    });

    async function connect(node: TestServer, sub: string, rooms: string[] = ["lobby"]): Promise<TestClient> {
      const { client } = await TestClient.auth(node.wsUrl, await token({ sub, tenant: "t1", rooms }));
      clients.push(client);
      return client;
    }

    test("a channel publication from a WebSocket client or the HTTP API reaches subscribers on every node", async () => {
      const subs = await Promise.all(nodes.map((n, i) => connect(n, `s${i}`)));
      for (const s of subs) expect(await s.request({ t: "sub", ch: "room:lobby" })).toMatchObject({ t: "ok" });
      const pubr = await connect(nodes[0]!, "p");
      const ok = await pubr.request({ t: "pub", ch: "room:lobby", ev: "chat", data: { text: "hi" } });
      expect(ok.t).toBe("ok");
      for (const s of subs) expect(await s.next((f) => f.t === "msg" && f.off === ok.off)).toMatchObject({ ev: "chat", data: { text: "hi" }, from: "p" });
      const res = await nodes[2]!.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "room:lobby", ev: "sys", data: 7 } });
      expect(res.status).toBe(200);
      const { off } = (await res.json()) as { off: string };
      expect(BigInt(off)).toBeGreaterThan(BigInt(ok.off));
      for (const s of subs) expect(await s.next((f) => f.t === "msg" && f.off === off)).toMatchObject({ ev: "sys", data: 7 });
    });

    test("a personal channel reaches all of the user's connections on every node", async () => {
      const conns = await Promise.all([connect(nodes[1]!, "bob"), connect(nodes[2]!, "bob")]);
      for (const c of conns) expect(await c.request({ t: "sub", ch: "user:bob" })).toMatchObject({ t: "ok" });
      const res = await nodes[0]!.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "user:bob", ev: "note", data: { n: 1 } } });
      expect(res.status).toBe(200);
      for (const c of conns) expect(await c.next(isMsg("user:bob"))).toMatchObject({ ev: "note", data: { n: 1 } });
    });

    test("a broadcast reaches every listed channel on every node", async () => {
      const a = await connect(nodes[1]!, "carol", ["b1"]);
      const b = await connect(nodes[2]!, "dave", ["b2"]);
      await a.request({ t: "sub", ch: "room:b1" });
      await b.request({ t: "sub", ch: "room:b2" });
      await b.request({ t: "sub", ch: "user:dave" });
      const res = await nodes[0]!.api("/v1/broadcast", { method: "POST", json: { tenant: "t1", chs: ["room:b1", "room:b2", "user:dave"], ev: "bc", data: 1 } });
      expect(res.status).toBe(200);
      const { offs } = (await res.json()) as { offs: string[] };
      expect(offs.length).toBe(3);
      expect(await a.next(isMsg("room:b1"))).toMatchObject({ ev: "bc", off: offs[0] });
      expect(await b.next(isMsg("room:b2"))).toMatchObject({ ev: "bc", off: offs[1] });
      expect(await b.next(isMsg("user:dave"))).toMatchObject({ ev: "bc", off: offs[2] });
    });

    test("presence and join are shared between nodes", async () => {
      const watcher = await connect(nodes[0]!, "watcher", ["pr"]);
      await watcher.request({ t: "sub", ch: "room:pr", presence: true });
      const joiner = await connect(nodes[2]!, "joiner", ["pr"]);
      await joiner.request({ t: "sub", ch: "room:pr", presence: true });
      expect(await watcher.next((f) => f.t === "join" && f.user === "joiner")).toMatchObject({ ch: "room:pr" });
      const p = await watcher.request({ t: "presence", ch: "room:pr" });
      expect(p.members.map((m: { user: string }) => m.user).sort()).toEqual(["joiner", "watcher"]);
    });

    test("two publishers on different nodes, 10,000 messages: every subscriber on every node sees the identical order", async () => {
      const total = 10_000;
      const subs = await Promise.all(nodes.map((n, i) => connect(n, `o${i}`, ["order"])));
      for (const s of subs) await s.request({ t: "sub", ch: "room:order" });
      const pubs = await Promise.all([connect(nodes[0]!, "pa", ["order"]), connect(nodes[1]!, "pb", ["order"])]);
      const t0 = performance.now();
      // Each publisher keeps up to 250 publishes in flight, like a busy client would.
      await Promise.all(
        pubs.map(async (p, pi) => {
          for (let sent = 0; sent < total / 2; ) {
            const batch = Math.min(250, total / 2 - sent);
            const answered = countReached(p, (f) => f.t === "ok" || f.t === "err", sent + batch, 20_000);
            for (let i = sent; i < sent + batch; i++) p.send({ t: "pub", id: 1000 + i, ch: "room:order", ev: "o", data: { p: pi, i } });
            sent += batch;
            await answered;
          }
        }),
      );
      for (const p of pubs) expect(p.frames.filter((f) => f.t === "err").slice(0, 1)).toEqual([]);
      await Promise.all(subs.map((s) => countReached(s, isMsg("room:order"), total, 20_000))).catch((e) => {
        console.log("counts", subs.map((s) => s.count(isMsg("room:order"))), subs.map((s) => s.frames.filter((f) => f.t !== "msg").slice(0, 3)), subs.map((s) => s.closeCode));
        throw e;
      });
      const ms = performance.now() - t0;
      const orders = subs.map((s) => s.frames.filter(isMsg("room:order")).map((f: Frame) => f.off as string));
      for (const o of orders) expect(o.length).toBe(total);
      expect(orders[1]).toEqual(orders[0]!);
      expect(orders[2]).toEqual(orders[0]!);
      expect(orders[0]!.every((o, i) => i === 0 || BigInt(o) === BigInt(orders[0]![i - 1]!) + 1n)).toBe(true);
      // each publisher's messages keep its send order
      for (const pi of [0, 1]) {
        const seq = subs[0]!.frames.filter((f) => isMsg("room:order")(f) && f.data.p === pi).map((f) => f.data.i as number);
        expect(seq).toEqual(Array.from({ length: total / 2 }, (_, i) => i));
      }
      console.log(`[${kind}, ${layout.name}] ${total} publishes from 2 nodes delivered to 3 nodes in ${ms.toFixed(0)} ms (${Math.round((total / ms) * 1000)} msg/s)`);
    }, 90_000);
  });
}

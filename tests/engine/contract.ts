/**
 * The engine contract (src/engine/engine.ts) as one scenario suite, run
 * against every engine. Node-to-node cases are registered only for engines
 * whose harness can start a second node on the same backend (`multiNode`): a
 * single-node engine neither passes nor skips them, it does not have them.
 */
import { afterEach, beforeEach, describe, expect, test } from "../helpers/suite.ts";
import type { ChannelOptions, Engine, PublicationInput } from "../../src/engine/engine.ts";
import { RecordingSink } from "./recording-sink.ts";
import { recordScenarios } from "./contract-records.ts";

export interface EngineNode {
  engine: Engine;
  sink: RecordingSink;
}

export interface EngineHarness {
  /** Starts a node with a fresh namespace (unique key prefix / data dir). */
  node(): Promise<EngineNode>;
  /** Starts another node sharing `of`'s backend and namespace; absent for single-node engines. */
  peer?(of: EngineNode): Promise<EngineNode>;
  /** Stops every node started and frees the namespace. */
  cleanup(): Promise<void>;
}

export const HIST: ChannelOptions = { historySize: 100, historyTtlSec: 300 };

export function pub(ch: string, n: number | string, extra: Partial<PublicationInput> = {}): PublicationInput {
  return { ch, ev: "e", data: JSON.stringify({ n }), ts: Date.now(), ...extra };
}

const offsets = (sink: RecordingSink, key: string) => sink.frames(key).filter((f) => f.t === "msg").map((f) => f.off as string);

function strictlyIncreasing(offs: string[]): boolean {
  return offs.every((o, i) => i === 0 || BigInt(o) > BigInt(offs[i - 1]!));
}

export function engineContract(name: string, makeHarness: () => Promise<EngineHarness>, opts: { multiNode: boolean }): void {
  describe(`engine contract: ${name}`, () => {
    let h: EngineHarness;
    beforeEach(async () => {
      h = await makeHarness();
    });
    afterEach(async () => {
      await h.cleanup();
    });

    describe("offsets and delivery", () => {
      test("a channel starts at offset 0; publishes get decimal offsets, strictly increasing", async () => {
        const { engine } = await h.node();
        expect((await engine.history("/room:a", { limit: 10 }, HIST)).off).toBe("0");
        const offs: string[] = [];
        for (let i = 0; i < 5; i++) offs.push(await engine.publish("/room:a", pub("room:a", i), HIST));
        for (const o of offs) expect(o).toMatch(/^[1-9]\d*$/);
        expect(strictlyIncreasing(offs)).toBe(true);
        expect((await engine.history("/room:a", { limit: 10 }, HIST)).off).toBe(offs[4]!);
      });

      test("delivers each publication once, encoded with its offset, in offset order", async () => {
        const { engine, sink } = await h.node();
        const offs = await Promise.all(Array.from({ length: 200 }, (_, i) => engine.publish("t1/room:a", pub("room:a", i), HIST)));
        // A last publication, sent once the 200 are acknowledged: delivery is in offset order, so
        // a duplicate of any of the 200 would arrive before it and be counted below.
        const last = await engine.publish("t1/room:a", pub("room:a", "last"), HIST);
        await sink.until(() => offsets(sink, "t1/room:a").includes(last), 5000, "the last delivery");
        const got = offsets(sink, "t1/room:a");
        expect(got).toHaveLength(201);
        expect(strictlyIncreasing(got)).toBe(true);
        expect(got).toEqual([...offs, last].sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1)));
        const f = sink.frames("t1/room:a")[0]!;
        expect(f).toMatchObject({ t: "msg", ch: "room:a", ev: "e" });
        expect(typeof f.ts).toBe("number");
      });

      test("channels of different tenants have separate offsets and deliveries", async () => {
        const { engine, sink } = await h.node();
        const a = await engine.publish("ta/room:x", pub("room:x", 1), HIST);
        await engine.publish("tb/room:x", pub("room:x", 2), HIST);
        const a2 = await engine.publish("ta/room:x", pub("room:x", 3), HIST);
        expect(BigInt(a2)).toBe(BigInt(a) + 1n);
        await sink.until(() => sink.frames("ta/room:x").length === 2 && sink.frames("tb/room:x").length === 1);
        expect(sink.frames("ta/room:x").map((f) => f.data.n)).toEqual([1, 3]);
      });

      test("channels without history still get increasing offsets, and nothing is stored", async () => {
        const { engine, sink } = await h.node();
        const opts = { historySize: 0, historyTtlSec: 0 };
        const o1 = await engine.publish("/room:nh", pub("room:nh", 1), opts);
        const o2 = await engine.publish("/room:nh", pub("room:nh", 2), opts);
        expect(BigInt(o2)).toBeGreaterThan(BigInt(o1));
        await sink.until(() => sink.frames("/room:nh").length === 2);
        const r = await engine.history("/room:nh", { limit: 10 }, opts);
        expect(r.frames).toEqual([]);
        expect(r.off).toBe(o2);
        expect((await engine.history("/room:nh", { since: o1, limit: 10 }, opts)).recovered).toBe(false);
      });

      test("signal delivers a frame without offset", async () => {
        const { engine, sink } = await h.node();
        const frame = '{"t":"join","ch":"room:s","user":"u1","conn":"n.1"}';
        await engine.signal("/room:s", frame);
        await sink.until(() => sink.delivered.some((d) => d.key === "/room:s" && d.frame === frame));
      });

      test("control reaches this node", async () => {
        const { engine, sink } = await h.node();
        await engine.control({ type: "disconnect", tenant: "t", user: "u1", reason: "test" });
        await sink.until(() => sink.controls.length === 1);
        expect(sink.controls[0]).toEqual({ type: "disconnect", tenant: "t", user: "u1", reason: "test" });
      });
    });

    describe("history", () => {
      test("since returns every later message, oldest first, recovered", async () => {
        const { engine } = await h.node();
        const offs: string[] = [];
        for (let i = 0; i < 10; i++) offs.push(await engine.publish("/room:h", pub("room:h", i), HIST));
        const r = await engine.history("/room:h", { since: offs[6], limit: 100 }, HIST);
        expect(r.recovered).toBe(true);
        expect(r.off).toBe(offs[9]!);
        expect(r.frames.map((f) => JSON.parse(f).data.n)).toEqual([7, 8, 9]);
        expect(r.frames.map((f) => JSON.parse(f).off)).toEqual(offs.slice(7));
      });

      test("without since: the newest `limit` messages, oldest first", async () => {
        const { engine } = await h.node();
        for (let i = 0; i < 10; i++) await engine.publish("/room:h", pub("room:h", i), HIST);
        const r = await engine.history("/room:h", { limit: 3 }, HIST);
        expect(r.recovered).toBe(true);
        expect(r.frames.map((f) => JSON.parse(f).data.n)).toEqual([7, 8, 9]);
      });

      test("limit caps a since query from the oldest side", async () => {
        const { engine } = await h.node();
        const offs: string[] = [];
        for (let i = 0; i < 10; i++) offs.push(await engine.publish("/room:h", pub("room:h", i), HIST));
        const r = await engine.history("/room:h", { since: offs[1], limit: 3 }, HIST);
        expect(r.frames.map((f) => JSON.parse(f).data.n)).toEqual([2, 3, 4]);
      });

      test("since == current offset: nothing missed, recovered", async () => {
        const { engine } = await h.node();
        const off = await engine.publish("/room:h", pub("room:h", 0), HIST);
        expect(await engine.history("/room:h", { since: off, limit: 10 }, HIST)).toEqual({ frames: [], off, recovered: true });
      });

      test("since older than the retained history (trimmed by size): recovered false", async () => {
        const { engine } = await h.node();
        const small = { historySize: 3, historyTtlSec: 300 };
        const offs: string[] = [];
        for (let i = 0; i < 8; i++) offs.push(await engine.publish("/room:trim", pub("room:trim", i), small));
        const r = await engine.history("/room:trim", { since: offs[1], limit: 10 }, small);
        expect(r.recovered).toBe(false);
        expect(r.frames.map((f) => JSON.parse(f).data.n)).toEqual([5, 6, 7]);
        const ok = await engine.history("/room:trim", { since: offs[4], limit: 10 }, small);
        expect(ok.recovered).toBe(true);
        expect(ok.frames.length).toBe(3);
      });

      test("publications sent together on interleaved channels: exact size window and order per channel", async () => {
        const { engine } = await h.node();
        const small = { historySize: 5, historyTtlSec: 300 };
        // No await between publishes: they share one write batch where the engine batches.
        const offs = await Promise.all(
          Array.from({ length: 24 }, (_, i) => engine.publish(i % 2 ? "/room:odd" : "/room:even", pub(i % 2 ? "room:odd" : "room:even", i), small)),
        );
        const even = offs.filter((_, i) => i % 2 === 0);
        const newest = await engine.history("/room:even", { limit: 50 }, small);
        expect(newest.off).toBe(even[11]!);
        expect(newest.frames.map((f) => JSON.parse(f).data.n)).toEqual([14, 16, 18, 20, 22]);
        const edge = await engine.history("/room:even", { since: even[6], limit: 50 }, small);
        expect(edge.recovered).toBe(true);
        expect(edge.frames.map((f) => JSON.parse(f).off)).toEqual(even.slice(7));
        const past = await engine.history("/room:even", { since: even[5], limit: 50 }, small);
        expect(past.recovered).toBe(false);
        expect(past.frames.length).toBe(5);
        const odd = await engine.history("/room:odd", { limit: 2 }, small);
        expect(odd.frames.map((f) => JSON.parse(f).data.n)).toEqual([21, 23]);
      });

      test("an expired and a fresh publication sent together: only the fresh one is history", async () => {
        const { engine } = await h.node();
        const ttl = { historySize: 100, historyTtlSec: 2 };
        const [old, fresh] = await Promise.all([
          engine.publish("/room:ttl2", pub("room:ttl2", 0, { ts: Date.now() - 10_000 }), ttl),
          engine.publish("/room:ttl2", pub("room:ttl2", 1), ttl),
        ]);
        expect((await engine.history("/room:ttl2", { limit: 10 }, ttl)).frames.map((f) => JSON.parse(f).data.n)).toEqual([1]);
        const s = await engine.history("/room:ttl2", { since: String(BigInt(old!) - 1n), limit: 10 }, ttl);
        expect(s.recovered).toBe(false);
        expect(s.frames.map((f) => JSON.parse(f).off)).toEqual([fresh]);
      });

      test("since ahead of the channel's offset, or not an offset: recovered false", async () => {
        const { engine } = await h.node();
        const off = await engine.publish("/room:h", pub("room:h", 0), HIST);
        const ahead = (BigInt(off) + 5n).toString();
        expect((await engine.history("/room:h", { since: ahead, limit: 10 }, HIST)).recovered).toBe(false);
        expect((await engine.history("/room:h", { since: "x1", limit: 10 }, HIST)).recovered).toBe(false);
      });

      test("messages older than the history TTL are not returned", async () => {
        const { engine } = await h.node();
        const ttl = { historySize: 100, historyTtlSec: 2 };
        const old = await engine.publish("/room:ttl", pub("room:ttl", 0, { ts: Date.now() - 10_000 }), ttl);
        const fresh = await engine.publish("/room:ttl", pub("room:ttl", 1), ttl);
        const r = await engine.history("/room:ttl", { limit: 10 }, ttl);
        expect(r.frames.map((f) => JSON.parse(f).data.n)).toEqual([1]);
        const s = await engine.history("/room:ttl", { since: String(BigInt(old) - 1n), limit: 10 }, ttl);
        expect(s.recovered).toBe(false);
        expect((await engine.history("/room:ttl", { since: old, limit: 10 }, ttl)).recovered).toBe(true);
        expect(fresh).not.toBe(old);
      });
    });

    recordScenarios(() => h, name, opts.multiNode);

    describe("presence", () => {
      test("members are grouped by user; add is idempotent per connection", async () => {
        const { engine } = await h.node();
        await engine.presenceAdd("/room:p", { user: "a", conn: "n1.1" });
        await engine.presenceAdd("/room:p", { user: "a", conn: "n1.2" });
        await engine.presenceAdd("/room:p", { user: "a", conn: "n1.2" });
        await engine.presenceAdd("/room:p", { user: "b", conn: "n1.3", info: { name: "B" } });
        const list = (await engine.presence("/room:p")).sort((x, y) => x.user.localeCompare(y.user));
        expect(list).toEqual([
          { user: "a", conns: 2 },
          { user: "b", conns: 1, info: { name: "B" } },
        ]);
        expect(await engine.presence("/room:other")).toEqual([]);
      });

      test("remove answers whether the member was present", async () => {
        const { engine } = await h.node();
        await engine.presenceAdd("/room:p", { user: "a", conn: "n1.1" });
        expect(await engine.presenceRemove("/room:p", "n1.1")).toBe(true);
        expect(await engine.presenceRemove("/room:p", "n1.1")).toBe(false);
        expect(await engine.presence("/room:p")).toEqual([]);
      });
    });

    describe("user connection leases", () => {
      test("at most `max` connections per user; release frees a slot", async () => {
        const { engine } = await h.node();
        expect(await engine.acquireUserConn("t/u1", "c1", 2)).toBe(true);
        expect(await engine.acquireUserConn("t/u1", "c2", 2)).toBe(true);
        expect(await engine.acquireUserConn("t/u1", "c3", 2)).toBe(false);
        expect(await engine.userConnCount("t/u1")).toBe(2);
        expect(await engine.acquireUserConn("t/u2", "c9", 2)).toBe(true);
        await engine.releaseUserConn("t/u1", "c1");
        expect(await engine.userConnCount("t/u1")).toBe(1);
        expect(await engine.acquireUserConn("t/u1", "c3", 2)).toBe(true);
      });
    });

    if (!opts.multiNode) return;
    const peerOf = (a: EngineNode): Promise<EngineNode> => {
      if (!h.peer) throw new Error(`${name}: multiNode is set but the harness has no peer()`);
      return h.peer(a);
    };

    describe("between nodes", () => {
      test("every node delivers a channel's messages in the same order", async () => {
        const a = await h.node();
        const b = await peerOf(a);
        const n = 300;
        await Promise.all(
          Array.from({ length: n }, (_, i) => (i % 2 ? a : b).engine.publish("/room:o", pub("room:o", i), HIST)),
        );
        await a.sink.until(() => offsets(a.sink, "/room:o").length === n, 5000, "node a deliveries");
        await b.sink.until(() => offsets(b.sink, "/room:o").length === n, 5000, "node b deliveries");
        expect(offsets(b.sink, "/room:o")).toEqual(offsets(a.sink, "/room:o"));
        expect(strictlyIncreasing(offsets(a.sink, "/room:o"))).toBe(true);
      });

      test("signals, control messages, presence and leases are shared", async () => {
        const a = await h.node();
        const b = await peerOf(a);
        await a.engine.signal("/room:s", '{"t":"leave","ch":"room:s","user":"u","conn":"c"}');
        await b.sink.until(() => b.sink.frames("/room:s").length === 1);
        await b.engine.control({ type: "drain", node: "n1" });
        await a.sink.until(() => a.sink.controls.length === 1);
        await a.engine.presenceAdd("/room:p", { user: "a", conn: "na.1" });
        expect(await b.engine.presence("/room:p")).toEqual([{ user: "a", conns: 1 }]);
        expect(await a.engine.acquireUserConn("/u", "na.1", 1)).toBe(true);
        expect(await b.engine.acquireUserConn("/u", "nb.1", 1)).toBe(false);
        expect(await b.engine.userConnCount("/u")).toBe(1);
      });

      test("a node only forwards to channels it has local subscribers for", async () => {
        const a = await h.node();
        const b = await peerOf(a);
        b.sink.subscribed = new Set(["/room:yes"]);
        await a.engine.publish("/room:no", pub("room:no", 1), HIST);
        await a.engine.publish("/room:yes", pub("room:yes", 2), HIST);
        await b.sink.until(() => b.sink.frames("/room:yes").length === 1);
        expect(b.sink.frames("/room:no")).toEqual([]);
      });
    });
  });
}

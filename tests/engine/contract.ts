/**
 * The engine contract (src/engine/engine.ts) as one scenario suite, run
 * against every engine. Node-to-node cases are registered only for engines
 * whose harness can start a second node on the same backend (`multiNode`): a
 * single-node engine neither passes nor skips them, it does not have them.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { ChannelOptions, Engine, PublicationInput } from "../../src/engine/engine.ts";
import { RecordingSink } from "./recording-sink.ts";

/** Resolves once `check` holds (polled every few ms; for state that has no event). */
async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await Bun.sleep(2);
  }
}

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

const HIST: ChannelOptions = { historySize: 100, historyTtlSec: 300 };

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

    describe("publishCommitted (records committed elsewhere first)", () => {
      const frameTexts = (sink: RecordingSink, key: string) => sink.frames(key).filter((f) => f.t === "msg").map((f) => `${f.off}:${f.data.n}`);

      test("commit gets the offsets first, nothing is visible until it resolves, then the batch is published at exactly those offsets", async () => {
        const { engine, sink } = await h.node();
        const prev = await engine.publish("t/chat:c", pub("chat:c", "p"), HIST);
        let seen: readonly string[] = [];
        const offs = await engine.publishCommitted("t/chat:c", [pub("chat:c", "a"), pub("chat:c", "b")], HIST, async (o) => {
          seen = o;
          const during = await engine.history("t/chat:c", { limit: 10 }, HIST);
          expect(during.off).toBe(prev);
          expect(during.frames).toHaveLength(1);
          expect(sink.frames("t/chat:c").some((f) => f.data.n === "a")).toBe(false);
        }, 5000);
        expect(offs).toEqual([...seen]);
        expect(offs).toEqual([String(BigInt(prev) + 1n), String(BigInt(prev) + 2n)]);
        await sink.until(() => frameTexts(sink, "t/chat:c").length === 3);
        expect(frameTexts(sink, "t/chat:c")).toEqual([`${prev}:p`, `${offs[0]}:a`, `${offs[1]}:b`]);
        const after = await engine.history("t/chat:c", { since: prev, limit: 10 }, HIST);
        expect(after).toMatchObject({ off: offs[1], recovered: true });
        expect(after.frames.map((f) => JSON.parse(f).data.n)).toEqual(["a", "b"]);
      });

      test("on a new channel too; a commit that fails publishes nothing and uses no offset", async () => {
        const { engine, sink } = await h.node();
        let failedAt: readonly string[] = [];
        const boom = new Error("store down");
        await expect(
          engine.publishCommitted("t/chat:new", [pub("chat:new", "lost")], HIST, async (o) => {
            failedAt = o;
            throw boom;
          }, 5000),
        ).rejects.toBe(boom);
        expect((await engine.history("t/chat:new", { limit: 10 }, HIST)).frames).toEqual([]);
        const offs = await engine.publishCommitted("t/chat:new", [pub("chat:new", "kept")], HIST, async () => {}, 5000);
        expect(offs).toEqual([...failedAt]);
        expect(offs[0]).toMatch(/^[1-9]\d*$/);
        await sink.until(() => sink.frames("t/chat:new").length === 1);
        expect(sink.frames("t/chat:new").map((f) => f.data.n)).toEqual(["kept"]);
        const next = await engine.publishCommitted("t/chat:new", [pub("chat:new", "next")], HIST, async () => {}, 5000);
        expect(BigInt(next[0]!)).toBe(BigInt(offs[0]!) + 1n);
      });

      test("calls on one channel take turns: a second commit starts only after the first batch is published", async () => {
        const { engine } = await h.node();
        const order: string[] = [];
        const first = Promise.withResolvers<void>();
        const one = engine.publishCommitted("t/chat:q", [pub("chat:q", 1)], HIST, async () => {
          order.push("commit 1");
          await first.promise;
        }, 5000);
        const two = engine.publishCommitted("t/chat:q", [pub("chat:q", 2)], HIST, async () => {
          order.push("commit 2");
        }, 5000);
        const other = await engine.publishCommitted("t/chat:other", [pub("chat:other", 3)], HIST, async () => {
          order.push("other channel");
        }, 5000);
        expect(other).toHaveLength(1);
        first.resolve();
        const [a, b] = await Promise.all([one, two]);
        expect(order).toEqual(["commit 1", "other channel", "commit 2"]);
        expect(BigInt(b![0]!)).toBe(BigInt(a![0]!) + 1n);
      });
    });

    describe("replace (redaction)", () => {
      /** The frame a redaction writes: same channel, offset and ts, other content. */
      const replacement = (frame: string) => {
        const f = JSON.parse(frame);
        return `{"t":"msg","ch":"${f.ch}","off":"${f.off}","ev":${JSON.stringify(f.ev)},"data":null,"redacted":{"by":"admin","ts":1},"ts":${f.ts}}`;
      };

      test("history, since and the newest window return the replacement; offsets and recovered unchanged", async () => {
        const { engine } = await h.node();
        const offs: string[] = [];
        for (let i = 0; i < 5; i++) offs.push(await engine.publish("t/chat:r", pub("chat:r", `secret-${i}`), HIST));
        const before = await engine.history("t/chat:r", { limit: 10 }, HIST);
        const target = before.frames[2]!;
        expect(await engine.replace("t/chat:r", offs[2]!, replacement(target), HIST)).toBe(true);
        const newest = await engine.history("t/chat:r", { limit: 10 }, HIST);
        expect(newest.off).toBe(offs[4]!);
        expect(newest.frames).toHaveLength(5);
        expect(newest.frames.join("\n")).not.toContain("secret-2");
        expect(JSON.parse(newest.frames[2]!)).toMatchObject({ off: offs[2], data: null, redacted: { by: "admin" } });
        expect(newest.frames.filter((_, i) => i !== 2)).toEqual(before.frames.filter((_, i) => i !== 2));
        // A client that saw offs[1] recovers from the replaced message on: no hole, nothing of the original.
        const since = await engine.history("t/chat:r", { since: offs[1], limit: 10 }, HIST);
        expect(since.recovered).toBe(true);
        expect(since.frames.map((f) => JSON.parse(f).off)).toEqual(offs.slice(2));
        expect(since.frames.join("\n")).not.toContain("secret-2");
        expect(since.frames.join("\n")).toContain("secret-3");
        expect(await engine.history("t/chat:r", { limit: 0 }, HIST)).toMatchObject({ frames: [], off: offs[4] });
        // The channel goes on as before.
        const next = await engine.publish("t/chat:r", pub("chat:r", "after"), HIST);
        expect(BigInt(next)).toBe(BigInt(offs[4]!) + 1n);
      });

      test("false for an offset history does not hold; other tenants' channels untouched", async () => {
        const { engine } = await h.node();
        const a = await engine.publish("ta/chat:r", pub("chat:r", "keep-a"), HIST);
        const b = await engine.publish("tb/chat:r", pub("chat:r", "keep-b"), HIST);
        const frameA = (await engine.history("ta/chat:r", { limit: 1 }, HIST)).frames[0]!;
        const ahead = (BigInt(a) + 10n).toString();
        expect(await engine.replace("ta/chat:r", ahead, replacement(frameA).replace(`"off":"${a}"`, `"off":"${ahead}"`), HIST)).toBe(false);
        expect(await engine.replace("ta/chat:r", a, replacement(frameA), HIST)).toBe(true);
        expect((await engine.history("tb/chat:r", { since: String(BigInt(b) - 1n), limit: 10 }, HIST)).frames[0]).toContain("keep-b");
        expect(await engine.replace("tc/chat:none", "1", '{"t":"msg","ch":"chat:none","off":"1","ev":"e","data":null,"ts":1}', HIST)).toBe(false);
      });

      test("a replacement for another channel or offset is refused", async () => {
        const { engine } = await h.node();
        const a = await engine.publish("t/chat:r", pub("chat:r", "x"), HIST);
        await expect(engine.replace("t/chat:r", a, `{"t":"msg","ch":"chat:other","off":"${a}","ev":"e","data":null,"ts":1}`, HIST)).rejects.toThrow(TypeError);
      });
    });

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

      test("publishCommitted holds a channel across nodes; a holder slower than holdMs loses it and is refused", async () => {
        const a = await h.node();
        const b = await peerOf(a);
        const release = Promise.withResolvers<void>();
        const committed: string[] = [];
        const slow = a.engine.publishCommitted("t/chat:h", [pub("chat:h", "a")], HIST, async () => {
          committed.push("a");
          await release.promise;
        }, 5000);
        await until(() => committed.length === 1);
        const waiting = b.engine.publishCommitted("t/chat:h", [pub("chat:h", "b")], HIST, async () => {
          committed.push("b");
        }, 5000);
        release.resolve();
        const [offA, offB] = await Promise.all([slow, waiting]);
        expect(committed).toEqual(["a", "b"]);
        expect(BigInt(offB![0]!)).toBe(BigInt(offA![0]!) + 1n);

        // a holds for 300 ms only and is still committing when b takes the channel over.
        const taken = Promise.withResolvers<void>();
        let lostOffs: readonly string[] = [];
        const lost = a.engine.publishCommitted("t/chat:h", [pub("chat:h", "late")], HIST, async (o) => {
          lostOffs = o;
          await taken.promise;
        }, 300);
        await until(() => lostOffs.length === 1);
        const over = await b.engine.publishCommitted("t/chat:h", [pub("chat:h", "over")], HIST, async () => {}, 5000);
        expect(over).toEqual([...lostOffs]);
        taken.resolve();
        await expect(lost).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
        const hist = await b.engine.history("t/chat:h", { since: offA![0]!, limit: 10 }, HIST);
        expect(hist.frames.map((f) => JSON.parse(f).data.n)).toEqual(["b", "over"]);
        expect(hist.recovered).toBe(true);
      });

      test("a replacement made on one node is what every node's history returns", async () => {
        const a = await h.node();
        const b = await peerOf(a);
        const off = await a.engine.publish("t/chat:x", pub("chat:x", "secret"), HIST);
        await a.engine.publish("t/chat:x", pub("chat:x", "later"), HIST);
        const f = JSON.parse((await a.engine.history("t/chat:x", { limit: 2 }, HIST)).frames[0]!);
        const frame = `{"t":"msg","ch":"chat:x","off":"${off}","ev":"e","data":null,"ts":${f.ts}}`;
        expect(await b.engine.replace("t/chat:x", off, frame, HIST)).toBe(true);
        for (const n of [a, b]) {
          const r = await n.engine.history("t/chat:x", { since: String(BigInt(off) - 1n), limit: 10 }, HIST);
          expect(r.recovered).toBe(true);
          expect(r.frames[0]).toBe(frame);
          expect(r.frames.join("\n")).not.toContain("secret");
        }
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

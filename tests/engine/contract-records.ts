/**
 * Engine contract scenarios for what features with their own records need:
 * publishing after the records are committed (publishCommitted) and
 * replacing a message in history (redaction). Part of engineContract.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, test } from "../helpers/suite.ts";
import type { EngineHarness, EngineNode } from "./contract.ts";
import { HIST, pub } from "./contract.ts";
import type { RecordingSink } from "./recording-sink.ts";

/** Resolves once `check` holds (polled every few ms; for state that has no event). */
async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(2);
  }
}

export function recordScenarios(harness: () => EngineHarness, name: string, multiNode: boolean): void {
  describe("publishCommitted (records committed elsewhere first)", () => {
    const frameTexts = (sink: RecordingSink, key: string) => sink.frames(key).filter((f) => f.t === "msg").map((f) => `${f.off}:${f.data.n}`);

    test("commit gets the offsets first, nothing is visible until it resolves, then the batch is published at exactly those offsets", async () => {
      const { engine, sink } = await harness().node();
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
      const { engine, sink } = await harness().node();
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
      const { engine } = await harness().node();
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
      const { engine } = await harness().node();
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
      const { engine } = await harness().node();
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
      const { engine } = await harness().node();
      const a = await engine.publish("t/chat:r", pub("chat:r", "x"), HIST);
      await expect(engine.replace("t/chat:r", a, `{"t":"msg","ch":"chat:other","off":"${a}","ev":"e","data":null,"ts":1}`, HIST)).rejects.toThrow(TypeError);
    });
  });

  if (!multiNode) return;
  const peerOf = (a: EngineNode): Promise<EngineNode> => {
    const h = harness();
    if (!h.peer) throw new Error(`${name}: multiNode is set but the harness has no peer()`);
    return h.peer(a);
  };

  describe("records between nodes", () => {
    test("publishCommitted holds a channel across nodes; a holder slower than holdMs loses it and is refused", async () => {
      const a = await harness().node();
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
      const a = await harness().node();
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

  });
}

import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalEngine } from "../../src/engine/local/local-engine.ts";
import { engineContract, pub } from "./contract.ts";
import { localHarness } from "./harnesses.ts";
import { onNode } from "../helpers/on-node.ts";
import { RecordingSink } from "./recording-sink.ts";
import { testLogger } from "../helpers/test-log.ts";

const logger = testLogger("engine-local");

engineContract("LocalEngine", localHarness(logger), { multiNode: false });
// The same contract on Node (tests/engine/local.node.ts), checked here case by case.
onNode("engine contract: LocalEngine", "tests/engine/local.node.ts");

describe("LocalEngine history file", () => {
  const dirs: string[] = [];
  const engines: LocalEngine[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.stop()));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  async function open(dataDir: string): Promise<{ engine: LocalEngine; sink: RecordingSink }> {
    const sink = new RecordingSink();
    const engine = new LocalEngine({ dataDir, nodeId: "n1", logger });
    await engine.start(sink);
    engines.push(engine);
    return { engine, sink };
  }
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "sb-local-file-"));
    dirs.push(d);
    return d;
  };
  const big = { historySize: 5000, historyTtlSec: 3600 };

  test("a burst larger than one segment is stored whole and read back in order after a restart", async () => {
    const dir = tmp();
    const { engine } = await open(dir);
    const offs = await Promise.all(Array.from({ length: 1300 }, (_, i) => engine.publish("t/room:burst", pub("room:burst", i), big)));
    await engine.stop();
    const again = (await open(dir)).engine;
    const r = again.history("t/room:burst", { since: offs[0], limit: 5000 }, big) as { frames: string[]; recovered: boolean; off: string };
    expect(r.off).toBe(offs[1299]!);
    expect(r.recovered).toBe(true);
    expect(r.frames.map((f) => JSON.parse(f).data.n)).toEqual(Array.from({ length: 1299 }, (_, i) => i + 1));
    const tail = again.history("t/room:burst", { limit: 3 }, big) as { frames: string[] };
    expect(tail.frames.map((f) => JSON.parse(f).data.n)).toEqual([1297, 1298, 1299]);
    expect(await again.publish("t/room:burst", pub("room:burst", "next"), big)).toBe(String(Number(offs[1299]) + 1));
  });

  test("a burst several times the history size keeps exactly the newest window, also after a restart", async () => {
    const dir = tmp();
    const { engine, sink } = await open(dir);
    const small = { historySize: 100, historyTtlSec: 3600 };
    // One write batch of 700 on one channel (no await between them): only the newest 100 can ever be read.
    const offs = await Promise.all(Array.from({ length: 700 }, (_, i) => engine.publish("t/room:flood", pub("room:flood", i), small)));
    // Every publication is still delivered, in order.
    expect(sink.frames("t/room:flood").map((f) => f.data.n)).toEqual(Array.from({ length: 700 }, (_, i) => i));
    await engine.stop();
    const again = (await open(dir)).engine;
    const newest = again.history("t/room:flood", { limit: 1000 }, small) as { frames: string[]; off: string };
    expect(newest.off).toBe(offs[699]!);
    expect(newest.frames.map((f) => JSON.parse(f).data.n)).toEqual(Array.from({ length: 100 }, (_, i) => 600 + i));
    const edge = again.history("t/room:flood", { since: offs[599], limit: 1000 }, small) as { frames: string[]; recovered: boolean };
    expect(edge.recovered).toBe(true);
    expect(edge.frames.length).toBe(100);
    const past = again.history("t/room:flood", { since: offs[598], limit: 1000 }, small) as { recovered: boolean };
    expect(past.recovered).toBe(false);
    expect(await again.publish("t/room:flood", pub("room:flood", "next"), small)).toBe(String(Number(offs[699]) + 1));
  });

  test("presence members whose connection ids look alike stay apart", async () => {
    const { engine } = await open(tmp());
    // The same number after different prefixes, a bare number, a leading zero: four members.
    for (const [user, conn] of [["a", "n1.k1-12"], ["b", "n1.k2-12"], ["c", "12"], ["d", "n1.k1-012"]] as const) await engine.presenceAdd("t/room:p", { user, conn });
    expect((await engine.presence("t/room:p")).map((m) => m.user).sort()).toEqual(["a", "b", "c", "d"]);
    expect(await engine.presenceRemove("t/room:p", "n1.k1-12")).toBe(true);
    expect(await engine.presenceRemove("t/room:p", "n1.k1-12")).toBe(false);
    expect((await engine.presence("t/room:p")).map((m) => m.user).sort()).toEqual(["b", "c", "d"]);
  });

  test("the TTL job deletes expired history from the file; fresh history stays; offsets go on after a restart", async () => {
    const dir = tmp();
    const { engine } = await open(dir);
    const ttl = { historySize: 100, historyTtlSec: 1 };
    const olds = await Promise.all([0, 1, 2].map((n) => engine.publish("t/room:old", pub("room:old", n, { ts: Date.now() - 5000 }), ttl)));
    await engine.publish("t/room:new", pub("room:new", 1), { historySize: 100, historyTtlSec: 3600 });
    expect(await engine.trim()).toBe(1);
    await engine.stop();
    const db = new Database(join(dir, "history.sqlite"), { readonly: true });
    try {
      expect(db.query("SELECT ch FROM segments").all()).toEqual([{ ch: "t/room:new" }]);
    } finally {
      db.close();
    }
    // Every message of room:old is gone, its offsets are not reused.
    const again = (await open(dir)).engine;
    expect((again.history("t/room:old", { limit: 10 }, ttl) as { off: string; frames: string[] })).toMatchObject({ off: olds[2], frames: [] });
    expect(await again.publish("t/room:old", pub("room:old", 3), ttl)).toBe(String(Number(olds[2]) + 1));
  });

  test("a second engine on the same DATA_DIR refuses to start and says why", async () => {
    const dir = tmp();
    await open(dir);
    const other = new LocalEngine({ dataDir: dir, nodeId: "n2", logger });
    const err = await other.start(new RecordingSink()).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/in use by another process/);
  });

  test("a history file from before segments (one row per message) is converted on start", async () => {
    const dir = tmp();
    const db = new Database(join(dir, "history.sqlite"), { create: true });
    const now = Date.now();
    db.exec("CREATE TABLE messages (ch TEXT NOT NULL, seq INTEGER NOT NULL, exp INTEGER NOT NULL, frame TEXT NOT NULL, PRIMARY KEY (ch, seq)) WITHOUT ROWID");
    db.exec("CREATE TABLE channels (ch TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID");
    const ins = db.prepare("INSERT INTO messages VALUES (?, ?, ?, ?)");
    for (let seq = 1; seq <= 3; seq++) {
      const ts = now - (seq === 1 ? 7_200_000 : 0);
      ins.run("t/room:old", seq, ts + 3_600_000, `{"t":"msg","ch":"room:old","off":"${seq}","ev":"e","data":{"n":${seq}},"ts":${ts}}`);
    }
    db.exec("INSERT INTO channels VALUES ('t/room:old', 3)");
    db.close();
    const { engine } = await open(dir);
    const r = engine.history("t/room:old", { since: "1", limit: 10 }, big) as { frames: string[]; recovered: boolean; off: string };
    expect(r).toMatchObject({ off: "3", recovered: true });
    expect(r.frames.map((f) => JSON.parse(f).data.n)).toEqual([2, 3]);
    // The first message had already expired (ts two hours back, TTL one hour).
    expect((engine.history("t/room:old", { since: "0", limit: 10 }, big) as { recovered: boolean }).recovered).toBe(false);
    expect(await engine.publish("t/room:old", pub("room:old", 4), big)).toBe("4");
  });
});

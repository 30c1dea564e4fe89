/**
 * The embedded engine's last offsets when the history file is asked about
 * channels it may never have stored: a channel published before a restart
 * (also one whose messages all expired, its offset kept in `channels`) goes
 * on from its last offset, and a channel never published to reads offset 0
 * without a query to the file (the key filter in sqlite-history.ts).
 * Registered by local-offsets.test.ts (Bun) and local-offsets.node.ts (Node).
 */
import { afterEach, describe, expect, test } from "../helpers/suite.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HistoryResult } from "../../src/engine/engine.ts";
import { LocalEngine } from "../../src/engine/local/local-engine.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { pub } from "./contract.ts";
import { RecordingSink } from "./recording-sink.ts";

const HIST = { historySize: 100, historyTtlSec: 3600 };
const EXPIRING = { historySize: 100, historyTtlSec: 1 };

interface Lookups {
  read: number;
  skipped: number;
}

export function localOffsetsSuite(logger: Logger): void {
  describe("LocalEngine offsets of stored and never-stored channels", () => {
    const dirs: string[] = [];
    const engines: LocalEngine[] = [];
    afterEach(async () => {
      await Promise.all(engines.splice(0).map((e) => e.stop()));
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    });
    async function open(dataDir: string, channelIdleMs?: number): Promise<LocalEngine> {
      const engine = new LocalEngine({ dataDir, nodeId: "n1", logger, channelIdleMs });
      await engine.start(new RecordingSink());
      engines.push(engine);
      return engine;
    }
    const tmp = () => {
      const d = mkdtempSync(join(tmpdir(), "sb-local-offsets-"));
      dirs.push(d);
      return d;
    };
    const lookups = (e: LocalEngine) => ({ ...(e.health().offsetLookups as Lookups) });
    const offOf = (e: LocalEngine, key: string, opts = HIST) => (e.history(key, { limit: 0 }, opts) as HistoryResult).off;

    test("after a restart every channel published before it goes on from its last offset, also one whose messages all expired", async () => {
      const dir = tmp();
      const first = await open(dir);
      const last = new Map<string, string>();
      // Enough channels that a filter losing keys would show it on some of them.
      for (let c = 0; c < 300; c++) {
        const key = `t/room:c${c}`;
        for (let i = 0; i <= c % 3; i++) last.set(key, await first.publish(key, pub(`room:c${c}`, i), HIST));
      }
      // Published five seconds ago with a one-second TTL: the TTL job deletes every message, the offset stays in `channels`.
      // (One write batch: one segment.)
      const gone = await Promise.all([0, 1, 2].map((i) => first.publish("t/room:gone", pub("room:gone", i, { ts: Date.now() - 5000 }), EXPIRING)));
      expect(gone).toEqual(["1", "2", "3"]);
      expect(await first.trim()).toBe(1);
      await first.stop();

      const again = await open(dir);
      expect(offOf(again, "t/room:gone", EXPIRING)).toBe("3");
      expect(await again.publish("t/room:gone", pub("room:gone", "next"), EXPIRING)).toBe("4");
      for (const [key, off] of last) {
        if (key === "t/room:gone") continue;
        expect(offOf(again, key)).toBe(off);
        expect(await again.publish(key, pub(key.slice(2), "next"), HIST)).toBe(String(Number(off) + 1));
      }
    });

    test("a channel never published to reads offset 0, with no history, without a query to the history file", async () => {
      const dir = tmp();
      const first = await open(dir);
      await first.publish("t/room:busy", pub("room:busy", 1), HIST);
      await first.stop();
      const engine = await open(dir);
      const before = lookups(engine);
      expect(before.read).toBe(0);
      for (let u = 0; u < 200; u++) {
        const key = `t/user:u${u}`;
        // A plain `sub`, a sub asking for the newest messages, and a recovery from 0.
        expect(engine.history(key, { limit: 0 }, HIST)).toMatchObject({ off: "0", frames: [], recovered: true });
        expect(engine.history(key, { limit: 10 }, HIST)).toMatchObject({ off: "0", frames: [], recovered: true });
        expect(engine.history(key, { since: "0", limit: 10 }, HIST)).toMatchObject({ off: "0", frames: [], recovered: true });
      }
      const after = lookups(engine);
      // 600 reads of never-stored channels: the filter may let a rare false positive through to the file, not more.
      expect(after.read - before.read).toBeLessThanOrEqual(1);
      expect(after.skipped - before.skipped).toBeGreaterThanOrEqual(599);
      // The stored channel is still read from the file.
      expect(offOf(engine, "t/room:busy")).toBe("1");
      expect(lookups(engine).read).toBe(after.read + 1);
      // A first publish to a never-stored channel starts at 1.
      expect(await engine.publish("t/user:u0", pub("user:u0", 1), HIST)).toBe("1");
    });

    test("a channel first stored in this process, then dropped from memory, goes on from its last offset", async () => {
      const engine = await open(tmp(), 1);
      expect(offOf(engine, "t/room:fresh")).toBe("0");
      expect(await engine.publish("t/room:fresh", pub("room:fresh", 1), HIST)).toBe("1");
      expect(await engine.publish("t/room:fresh", pub("room:fresh", 2), HIST)).toBe("2");
      // The idle sweep (channelIdleMs 1: every 100 ms) drops the channel's state; its offset then comes from the file.
      while (engine.health().channels > 0) await new Promise((r) => setTimeout(r, 20));
      const before = lookups(engine);
      expect(offOf(engine, "t/room:fresh")).toBe("2");
      expect(lookups(engine).read).toBe(before.read + 1);
      expect(await engine.publish("t/room:fresh", pub("room:fresh", 3), HIST)).toBe("3");
    });
  });
}

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { nodeEnv, policyFile } from "./nodes.ts";

/**
 * A node on Redis keeps its record store (last seen, statuses, calls, jobs)
 * in SQLite in DATA_DIR. A write the store refuses (disk full, I/O error, or
 * a write timed out behind a stalled event loop, as in the 30-minute soak)
 * marks the store down: /health/ready 503 and writes refused. It must come
 * back by itself once writes work again; before the fix nothing ever
 * brought it back (no heartbeat for SQLite, and writes are refused while
 * down), so the node stayed 503 for good.
 * The failure is real: DATA_DIR is a 2 MiB tmpfs filled to the last byte
 * (mounting needs root; the test says so and is skipped otherwise).
 */
const mnt = mkdtempSync(join(tmpdir(), "sb-small-disk-"));
const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt]).exitCode === 0;
if (!mounted) console.warn("record-store-recovery: cannot mount a tmpfs (needs root); skipped");

describe.skipIf(!mounted)("record store refusing writes on a node on Redis", () => {
  let redis: RedisServer;
  let node: TestServer;
  const policy = policyFile();
  const filler = join(mnt, "filler");

  beforeAll(async () => {
    redis = await startRedis();
    node = await startServer({
      dataDir: mnt,
      env: nodeEnv({ kind: "standalone", env: { REDIS_URL: redis.url, REDIS_PREFIX: `store${process.pid}` }, stop: async () => {} }, policy.path),
    });
  }, 30_000);
  afterAll(async () => {
    await node?.stop();
    await redis?.stop();
    policy.cleanup();
    Bun.spawnSync(["umount", mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  async function ready(): Promise<{ status: number; reason?: string }> {
    const r = await fetch(node.url + "/health/ready");
    const body = (await r.json()) as { reason?: string };
    return { status: r.status, reason: body.reason };
  }

  /** A connection that authenticates and closes: its user's last seen is written to the record store. */
  async function connectAndLeave(user: string): Promise<void> {
    const { client } = await TestClient.auth(node.wsUrl, await token({ sub: user, tenant: "t1", rooms: ["a"] }));
    client.close();
  }

  function fillDisk(): void {
    const fd = openSync(filler, "w");
    const chunk = Buffer.alloc(4096, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch {
      // ENOSPC: the disk is full.
    } finally {
      closeSync(fd);
    }
  }

  test("readiness turns 503 naming the record store while the disk is full, and 200 again once there is room", async () => {
    await connectAndLeave("u1");
    await until(async () => ((await ready()).status === 200 ? true : undefined), "the node to be ready");

    fillDisk();
    // Users keep leaving: their last seen cannot be written.
    let n = 0;
    const down = await until(async () => {
      await connectAndLeave(`full${++n}`);
      const r = await ready();
      return r.status === 503 ? r : undefined;
    }, "readiness to turn 503 on the full disk", 15_000);
    expect(down.reason).toContain("record store unavailable");

    rmSync(filler);
    // Nobody connects meanwhile: the node notices by itself.
    await until(async () => ((await ready()).status === 200 ? true : undefined), "readiness to turn 200 once the disk has room", 15_000);
    expect(node.logs.some((l) => l.msg === "record store availability changed" && l.up === true)).toBe(true);

    // And the store takes writes again: leaving users do not turn it down.
    for (let i = 0; i < 5; i++) await connectAndLeave(`after${i}`);
    expect((await ready()).status).toBe(200);
  }, 60_000);
});

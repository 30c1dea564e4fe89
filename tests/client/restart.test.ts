import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compareOffsets, type SubscribeResult } from "../../src/client/index.ts";
import { RUNTIMES, startServer, token, type TestServer } from "../helpers/server.ts";
import { apiPublish, clientPool, Inbox, nextEvent, recordEvents } from "./support.ts";

const pool = clientPool();
const servers: TestServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  pool.closeAll();
  await Promise.all(servers.splice(0).map((s) => s.stop("SIGKILL")));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// The SDK across a crash and a restart of either runtime's server (same DATA_DIR, same port).
for (const runtime of RUNTIMES) describe(`on ${runtime}`, () => {
  test("after a server crash and restart the client receives every message published while away, once, in order", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sb-client-restart-"));
    dirs.push(dataDir);
    const a = await startServer({ runtime, dataDir, keepData: true });
    servers.push(a);
    // A reconnect floor of 1 s leaves room to publish on the new node before the client is back.
    const client = pool.create(a.wsUrl, { token: await token({ sub: "erin" }), minReconnectDelayMs: 1000, maxReconnectDelayMs: 2000 });
    const events = recordEvents(client);
    const inbox = new Inbox<{ n: number }>();
    const results: SubscribeResult[] = [];
    const failures: unknown[] = [];
    const sub = client.subscribe("user:erin", inbox.push, { onSubscribed: (r) => results.push(r), onRecoveryFailed: (f) => failures.push(f) });
    await client.connect();
    await sub.ready;

    for (let n = 1; n <= 5; n++) await apiPublish(a, "user:erin", "tick", { n });
    await inbox.waitFor(5);

    const gone = nextEvent(client, "disconnected");
    await a.stop("SIGKILL");
    expect((await gone).willReconnect).toBe(true);

    // The ten publications go through a node on another port (same data dir), so the client
    // cannot be back before they are all stored: all ten must come through recovery.
    const side = await startServer({ runtime, dataDir, keepData: true });
    for (let n = 6; n <= 15; n++) await apiPublish(side, "user:erin", "tick", { n });
    await side.stop();
    const b = await startServer({ runtime, port: a.port, dataDir, keepData: true });
    servers.push(b);
    await inbox.waitFor(15);
    for (let n = 16; n <= 20; n++) await apiPublish(b, "user:erin", "tick", { n });
    await inbox.waitFor(20);

    expect(inbox.data.map((d) => d.n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const offs = inbox.messages.map((m) => m.off!);
    for (let i = 1; i < offs.length; i++) expect(compareOffsets(offs[i]!, offs[i - 1]!)).toBeGreaterThan(0);
    expect(failures).toEqual([]);
    expect(results).toHaveLength(2);
    expect(results[1]).toMatchObject({ resubscribed: true, recovered: true });
    expect(results[1]!.missed).toBe(10);
    expect(events.filter((e) => e.name === "connected")).toHaveLength(2);
    expect(client.hello?.node).toBe(b.node);
  }, 20_000);

  test("a channel without history keeps delivering after a server restart, offsets still increasing, and says continuity was lost", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sb-client-restart-"));
    dirs.push(dataDir);
    const a = await startServer({ runtime, dataDir, keepData: true });
    servers.push(a);
    const client = pool.create(a.wsUrl, { token: await token({ sub: "olga", calls: ["c1"] }), minReconnectDelayMs: 50, maxReconnectDelayMs: 200 });
    const inbox = new Inbox<{ n: number }>();
    const failures: unknown[] = [];
    const resubscribed = Promise.withResolvers<SubscribeResult>();
    await client.connect();
    const sub = client.subscribe("call:c1", inbox.push, { onRecoveryFailed: (f) => failures.push(f), onSubscribed: (r) => r.resubscribed && resubscribed.resolve(r) });
    await sub.ready;
    for (let n = 1; n <= 3; n++) await client.publish("call:c1", "signal", { n });
    await inbox.waitFor(3);
    const lastBefore = inbox.messages[2]!.off!;

    const gone = nextEvent(client, "disconnected");
    await a.stop("SIGKILL");
    await gone;
    const b = await startServer({ runtime, port: a.port, dataDir, keepData: true });
    servers.push(b);
    const result = await resubscribed.promise;
    await client.publish("call:c1", "signal", { n: 4 });
    await inbox.waitForMessage((m) => m.data.n === 4);
    expect(inbox.data.map((d) => d.n)).toEqual([1, 2, 3, 4]);
    // Nothing is stored for such a channel, so nothing can be recovered: the resubscribe says so.
    expect(result).toMatchObject({ resubscribed: true, recovered: false });
    expect(failures).toEqual([{ ch: "call:c1", since: lastBefore, off: expect.any(String) }]);
    // The embedded engine starts a history-less channel's offsets from the clock: never backwards.
    expect(compareOffsets(inbox.messages[3]!.off!, lastBefore)).toBeGreaterThan(0);
  }, 20_000);
});

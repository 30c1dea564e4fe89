import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { compareOffsets, type RecoveryFailure } from "../../src/client/index.ts";
import { RUNTIMES, startServer, token, type TestServer } from "../helpers/server.ts";
import { apiPublish, clientPool, Inbox, nextEvent } from "./support.ts";

// The SDK's recovery against both runtimes' servers (Bun.serve, and Node + uWebSockets.js).
for (const runtime of RUNTIMES) describe(`on ${runtime}`, () => {
  let server: TestServer;
  const pool = clientPool();
  beforeAll(async () => {
    server = await startServer({ runtime });
  });
  afterEach(() => pool.closeAll());
  afterAll(() => server.stop());

  test("close() then connect() resumes the subscription from its offset without gaps or repeats", async () => {
    const client = pool.create(server.wsUrl, { token: await token({ sub: "ivan" }) });
    const inbox = new Inbox<{ n: number }>();
    const sub = client.subscribe("user:ivan", inbox.push);
    await client.connect();
    await sub.ready;
    for (let n = 1; n <= 3; n++) await apiPublish(server, "user:ivan", "tick", { n });
    await inbox.waitFor(3);
    client.close();
    expect(client.state).toBe("closed");
    for (let n = 4; n <= 8; n++) await apiPublish(server, "user:ivan", "tick", { n });
    const resubscribed = nextEvent(client, "connected");
    await client.connect();
    await resubscribed;
    await inbox.waitFor(8);
    await apiPublish(server, "user:ivan", "tick", { n: 9 });
    await inbox.waitFor(9);
    expect(inbox.data.map((d) => d.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test("more messages than the history keeps while away: onRecoveryFailed fires, delivery continues without repeats", async () => {
    const client = pool.create(server.wsUrl, { token: await token({ sub: "fay" }) });
    const inbox = new Inbox<{ n: number }>();
    const failures: RecoveryFailure[] = [];
    const sub = client.subscribe("user:fay", inbox.push, { onRecoveryFailed: (f) => failures.push(f) });
    await client.connect();
    await sub.ready;
    for (let n = 1; n <= 3; n++) await apiPublish(server, "user:fay", "tick", { n });
    await inbox.waitFor(3);
    const lastSeen = inbox.messages[2]!.off!;

    client.close();
    let last = "";
    for (let n = 4; n <= 130; n++) last = await apiPublish(server, "user:fay", "tick", { n }); // history keeps 100
    const failed = nextEvent(client, "recoveryFailed");
    await client.connect();
    const failure = await failed;
    expect(failure).toEqual({ ch: "user:fay", since: lastSeen, off: last });
    expect(failures).toEqual([failure]);

    await apiPublish(server, "user:fay", "tick", { n: 131 });
    await inbox.waitForMessage((m) => m.data.n === 131);
    const tail = inbox.data.slice(3).map((d) => d.n);
    // Exactly what the history still kept (the newest 100 of 4…130: 31…130) came through in order,
    // then the live message; nothing older, nothing missing, nothing twice.
    expect(tail).toEqual(Array.from({ length: 101 }, (_, i) => 31 + i));
    const offs = inbox.messages.map((m) => m.off!);
    for (let i = 1; i < offs.length; i++) expect(compareOffsets(offs[i]!, offs[i - 1]!)).toBeGreaterThan(0);
  });
});

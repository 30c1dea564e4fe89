import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StatusEntry } from "../../src/client/index.ts";
import { FEATURE_NAMESPACES } from "../features/setups.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { clientPool, Inbox, nextEvent, withTimeout } from "./support.ts";

// A typing indicator takes its announced 5 s to expire; restarts take a few seconds on a loaded machine.
setDefaultTimeout(60_000);

/** Resolves when `pred` holds for a value pushed to the returned sink. */
function waiter<T>() {
  const seen: T[] = [];
  const waits: { pred: (v: T) => boolean; resolve: (v: T) => void }[] = [];
  return {
    seen,
    push: (v: T) => {
      seen.push(v);
      for (const w of waits.splice(0)) if (w.pred(v)) w.resolve(v);
      else waits.push(w);
    },
    next: (pred: (v: T) => boolean, what: string) => {
      const hit = seen.find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
      return withTimeout(new Promise<T>((resolve) => waits.push({ pred, resolve })), 10_000, () => `no ${what}`);
    },
  };
}

describe("SDK feature methods against a real server", () => {
  let server: TestServer;
  let dir: string;
  const pool = clientPool();
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sb-sdk-features-"));
    writeFileSync(join(dir, "policy.json"), JSON.stringify({ namespaces: FEATURE_NAMESPACES }));
    server = await startServer({ env: { SWITCHBOARD_CONFIG: join(dir, "policy.json"), WS_RATE_LIMIT_PER_SEC: "0" }, dataDir: join(dir, "data"), keepData: true });
    await server.api("/v1/conversations/c1", { method: "PUT", json: { tenant: "t", members: ["ann", "bob"] } });
  });
  afterAll(async () => {
    pool.closeAll();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("conversation(id): send, typing with expiry, markRead and onRead, paging", async () => {
    const ann = pool.create(server.wsUrl, { token: await token({ sub: "ann", tenant: "t" }) });
    const bob = pool.create(server.wsUrl, { token: await token({ sub: "bob", tenant: "t" }) });
    await Promise.all([ann.connect(), bob.connect()]);
    const annChat = ann.conversation("c1");
    const bobChat = bob.conversation("c1");
    const bobInbox = new Inbox<{ text: string }>();
    await annChat.subscribe(() => {}).ready;
    await bobChat.subscribe(bobInbox.push).ready;

    const typing = waiter<[string, boolean]>();
    bobChat.onTyping((user, on) => typing.push([user, on]));
    expect(annChat.typing()).toBe(true);
    await typing.next(([u, on]) => u === "ann" && on, "typing start");
    // nobody refreshes it: it ends by itself after the announced expiry
    await typing.next(([u, on]) => u === "ann" && !on, "typing expiry");

    const { off } = await annChat.send({ text: "hi bob" });
    await bobInbox.waitFor(1);
    expect(bobInbox.messages[0]).toMatchObject({ off, from: "ann", data: { text: "hi bob" } });
    expect(await bobChat.unread()).toEqual({ unread: 1, total: 1 });
    const reads = waiter<{ user: string; off: string }>();
    annChat.onRead((e) => reads.push(e));
    expect(await bobChat.markRead(off)).toEqual({ off, unread: 0, total: 0 });
    expect(await reads.next((e) => e.user === "bob", "read event")).toMatchObject({ ch: "chat:c1", off });
    const page = await annChat.messages({ limit: 10 });
    expect(page).toMatchObject({ more: false, messages: [{ off, data: { text: "hi bob" } }] });
  });

  test("notifications: list, markRead, onUnread on another connection", async () => {
    const phone = pool.create(server.wsUrl, { token: await token({ sub: "ann", tenant: "t" }) });
    const laptop = pool.create(server.wsUrl, { token: await token({ sub: "ann", tenant: "t" }) });
    await Promise.all([phone.connect(), laptop.connect()]);
    const counts = waiter<number>();
    laptop.notifications.onUnread((n) => counts.push(n));
    const res = await server.api("/v1/notifications", { method: "POST", json: { tenant: "t", users: ["ann"], type: "lab", title: "Results in", data: { id: 9 } } });
    const [id] = (await res.json()).ids;
    await counts.next((n) => n === 1, "unread 1");
    const list = await phone.notifications.list({ unread: true });
    expect(list.unread).toBe(1);
    expect(list.notifications).toEqual([{ id, type: "lab", title: "Results in", body: null, data: { id: 9 }, priority: "normal", ts: expect.any(Number), readTs: null }]);
    expect(await phone.notifications.markRead([id])).toBe(0);
    await counts.next((n) => n === 0, "unread 0");
  });

  test("setStatus and watchStatus survive a server restart (status set again, watch renewed)", async () => {
    const carol = pool.create(server.wsUrl, { token: await token({ sub: "carol", tenant: "t" }), minReconnectDelayMs: 50, maxReconnectDelayMs: 200 });
    const dan = pool.create(server.wsUrl, { token: await token({ sub: "dan", tenant: "t" }), minReconnectDelayMs: 50, maxReconnectDelayMs: 200 });
    await Promise.all([carol.connect(), dan.connect()]);
    const seen = waiter<StatusEntry>();
    const watch = carol.watchStatus(["dan"], (e) => seen.push(e));
    expect(await watch.ready).toEqual([{ user: "dan", status: "online", online: true, lastSeen: null }]);
    await dan.setStatus("in_call", "with a patient");
    expect(await seen.next((e) => e.status === "in_call", "in_call")).toEqual({ user: "dan", status: "in_call", text: "with a patient", online: true, lastSeen: null });

    const port = server.port;
    await server.stop();
    server = await startServer({ env: { SWITCHBOARD_CONFIG: join(dir, "policy.json"), WS_RATE_LIMIT_PER_SEC: "0" }, dataDir: join(dir, "data"), keepData: true, port });
    await Promise.all([nextEvent(carol, "connected"), nextEvent(dan, "connected")]);
    // after the restart dan's client sets its status again and carol's watch is renewed: the roster says in_call again
    const mark = seen.seen.length;
    await seen.next((e) => seen.seen.indexOf(e) >= mark && e.status === "in_call" && e.online, "in_call after the restart");
    // the new process was told by dan's client itself (its audit log has the status frame)
    await until(async () => (server.logs.some((l) => l.audit === true && l.msg === "status" && l.user === "dan") ? true : undefined), "status audit after the restart");
    watch.stop();
  });
});

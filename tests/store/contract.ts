/**
 * The store contract (src/store/ports.ts) as one scenario suite, run against
 * every implementation with a fresh database per test.
 */
import { LATEST_SCHEMA } from "../../src/store/migrations.ts";
import { afterEach, beforeEach, describe, expect, test } from "../helpers/suite.ts";
import type { ChatMessage, Store } from "../../src/store/ports.ts";

export interface StoreHarness {
  /** A started store on a fresh, empty database. */
  open(): Promise<Store>;
  /** The same database opened again (a restarted node); the previous store must be stopped first. */
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

const msg = (off: number, from: string | null, text = `m${off}`, ts = Date.now()): ChatMessage => ({ off, ev: "message", data: JSON.stringify({ text }), from, ts });
const NOTE = { type: "appointment", title: "Visit at 10:00", body: null, data: '{"room":3}', priority: "normal" as const };

export function storeContract(name: string, makeHarness: () => Promise<StoreHarness>): void {
  describe(`store contract: ${name}`, () => {
    let h: StoreHarness;
    let s: Store;
    beforeEach(async () => {
      h = await makeHarness();
      s = await h.open();
    });
    afterEach(async () => {
      await h.cleanup();
    });

    test("a conversation is created with its members; a second put answers who was added and removed", async () => {
      expect(await s.putConversation("t1", "c1", { title: "Care team", members: ["ann", "bob"] }, 1000)).toEqual({ added: ["ann", "bob"], removed: [] });
      expect(await s.conversation("t1", "c1")).toEqual({ id: "c1", title: "Care team", members: ["ann", "bob"], createdMs: 1000 });
      expect(await s.putConversation("t1", "c1", { title: null, members: ["bob", "cy"] }, 2000)).toEqual({ added: ["cy"], removed: ["ann"] });
      expect((await s.conversation("t1", "c1"))?.members).toEqual(["bob", "cy"]);
      expect(await s.isMember("t1", "c1", "ann")).toBe(false);
      expect(await s.isMember("t1", "c1", "cy")).toBe(true);
    });

    test("tenants never see each other's conversations, messages, notifications or last seen", async () => {
      await s.putConversation("t1", "c1", { title: "one", members: ["ann"] }, 1);
      await s.appendMessage("t1", "c1", msg(1, "bob"), null);
      await s.addNotifications("t1", ["ann"], NOTE, 1, null);
      await s.setLastSeen("t1", "ann", 5);
      expect(await s.conversation("t2", "c1")).toBeUndefined();
      expect(await s.isMember("t2", "c1", "ann")).toBe(false);
      expect(await s.conversationsOf("t2", "ann")).toEqual([]);
      expect((await s.messagesBefore("t2", "c1", undefined, 10, Date.now())).messages).toEqual([]);
      expect(await s.notifications("t2", "ann", { unreadOnly: false, limit: 10 }, Date.now())).toEqual([]);
      expect(await s.unreadNotifications("t2", "ann", Date.now())).toBe(0);
      expect((await s.lastSeen("t2", ["ann"])).size).toBe(0);
      expect((await s.unreadCounts("t2", "ann", Date.now())).total).toBe(0);
    });

    test("messages page backwards with a before cursor, oldest first within a page, with a more flag", async () => {
      await s.putConversation("t", "c", { title: null, members: ["ann", "bob"] }, 1);
      await Promise.all(Array.from({ length: 25 }, (_, i) => s.appendMessage("t", "c", msg(i + 1, "ann"), null)));
      const p1 = await s.messagesBefore("t", "c", undefined, 10, Date.now());
      expect(p1.messages.map((m) => m.off)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
      expect(p1.more).toBe(true);
      const p3 = await s.messagesBefore("t", "c", 6, 10, Date.now());
      expect(p3.messages.map((m) => m.off)).toEqual([1, 2, 3, 4, 5]);
      expect(p3.more).toBe(false);
      expect(p3.messages[0]).toMatchObject({ ev: "message", data: '{"text":"m1"}', from: "ann" });
    });

    test("expired messages are hidden and trimmed; forever messages stay", async () => {
      await s.putConversation("t", "c", { title: null, members: ["ann"] }, 1);
      const now = Date.now();
      await s.appendMessage("t", "c", msg(1, "bob"), now - 1000);
      await s.appendMessage("t", "c", msg(2, "bob"), null);
      expect((await s.messagesBefore("t", "c", undefined, 10, now)).messages.map((m) => m.off)).toEqual([2]);
      expect((await s.unreadCounts("t", "ann", now)).total).toBe(1);
      expect(await s.trim(now)).toBe(1);
      expect((await s.messagesBefore("t", "c", undefined, 10, 0)).messages.map((m) => m.off)).toEqual([2]);
    });

    test("a write of the same offset twice stores one message", async () => {
      await s.appendMessage("t", "c", msg(1, "ann", "first"), null);
      await s.appendMessage("t", "c", msg(1, "ann", "again"), null);
      const page = await s.messagesBefore("t", "c", undefined, 10, Date.now());
      expect(page.messages.map((m) => m.data)).toEqual(['{"text":"first"}']);
    });

    test("putMessage replaces what an unpublished batch left under an offset (redaction too), in one batch with appendMessage; deleteMessages drops records", async () => {
      await s.appendMessage("t", "c", msg(1, "ann", "kept"), null);
      await s.putMessage("t", "c", msg(2, "ann", "never published"), null);
      await s.redactMessage("t", "c", 2, "admin", 5);
      await Promise.all([s.putMessage("t", "c", msg(2, "bob", "the real one"), null), s.putMessage("t", "c", msg(3, "bob", "next"), null), s.appendMessage("t", "c", msg(1, "x", "ignored"), null)]);
      const page = await s.messagesBefore("t", "c", undefined, 10, Date.now());
      expect(page.messages.map((m) => [m.off, m.from, JSON.parse(m.data).text, m.redactedBy])).toEqual([
        [1, "ann", "kept", undefined],
        [2, "bob", "the real one", undefined],
        [3, "bob", "next", undefined],
      ]);
      await s.deleteMessages("t", "c", [2, 3]);
      await s.deleteMessages("t", "c", []);
      expect((await s.messagesBefore("t", "c", undefined, 10, Date.now())).messages.map((m) => m.off)).toEqual([1]);
    });

    test("read positions only move forward; unread counts skip own and redacted messages", async () => {
      await s.putConversation("t", "c1", { title: "a", members: ["ann", "bob"] }, 1);
      await s.putConversation("t", "c2", { title: "b", members: ["ann", "cy"] }, 1);
      for (let off = 1; off <= 5; off++) await s.appendMessage("t", "c1", msg(off, off === 3 ? "ann" : "bob"), null);
      await s.appendMessage("t", "c2", msg(1, "cy"), null);
      const now = Date.now();
      expect(await s.unreadCounts("t", "ann", now)).toEqual({ conversations: [{ id: "c1", unread: 4 }, { id: "c2", unread: 1 }], total: 5 });
      expect(await s.markRead("t", "c1", "ann", 4, now)).toBe(4);
      expect(await s.markRead("t", "c1", "ann", 2, now)).toBe(4);
      expect(await s.readPositions("t", "c1")).toEqual([{ user: "ann", off: 4 }]);
      expect((await s.unreadCounts("t", "ann", now)).total).toBe(2);
      expect(await s.redactMessage("t", "c1", 5, "admin", now)).toBe(true);
      expect(await s.redactMessage("t", "c1", 99, "admin", now)).toBe(false);
      expect((await s.unreadCounts("t", "ann", now)).conversations).toEqual([{ id: "c1", unread: 0 }, { id: "c2", unread: 1 }]);
      const page = await s.messagesBefore("t", "c1", undefined, 10, now);
      expect(page.messages.at(-1)).toMatchObject({ off: 5, data: "null", redactedBy: "admin", redactedMs: now });
      // bob wrote everything but message 3 and never read: one unread
      expect((await s.unreadCounts("t", "bob", now)).total).toBe(1);
    });

    test("a user's conversations come with their last message and unread count, most recent first", async () => {
      await s.putConversation("t", "old", { title: "Old", members: ["ann"] }, 1);
      await s.putConversation("t", "new", { title: "New", members: ["ann"] }, 1);
      await s.putConversation("t", "other", { title: "Not hers", members: ["bob"] }, 1);
      await s.appendMessage("t", "old", msg(1, "bob", "x", 10), null);
      await s.appendMessage("t", "new", msg(1, "bob", "y", 20), null);
      await s.appendMessage("t", "new", msg(2, "bob", "z", 30), null);
      const list = await s.conversationsOf("t", "ann");
      expect(list.map((c) => [c.id, c.title, c.unread, c.lastMessage?.data])).toEqual([
        ["new", "New", 2, '{"text":"z"}'],
        ["old", "Old", 1, '{"text":"x"}'],
      ]);
    });

    test("notifications: stored per user, newest first, unread filter, paging, mark one or all read", async () => {
      const now = Date.now();
      const [a1] = await s.addNotifications("t", ["ann", "bob"], NOTE, now - 3, null);
      const [a2] = await s.addNotifications("t", ["ann"], { ...NOTE, title: "second" }, now - 2, null);
      const [a3] = await s.addNotifications("t", ["ann"], { ...NOTE, title: "third", priority: "high" }, now - 1, null);
      expect(await s.unreadNotifications("t", "ann", now)).toBe(3);
      const all = await s.notifications("t", "ann", { unreadOnly: false, limit: 10 }, now);
      expect(all.map((n) => n.id)).toEqual([a3!.id, a2!.id, a1!.id]);
      expect(all[0]).toMatchObject({ type: "appointment", title: "third", priority: "high", data: '{"room":3}', readMs: null });
      expect((await s.notifications("t", "ann", { unreadOnly: false, limit: 2, before: a3!.id }, now)).map((n) => n.title)).toEqual(["second", "Visit at 10:00"]);
      expect(await s.markNotificationsRead("t", "ann", [a2!.id], now)).toBe(2);
      expect((await s.notifications("t", "ann", { unreadOnly: true, limit: 10 }, now)).map((n) => n.id)).toEqual([a3!.id, a1!.id]);
      expect(await s.markNotificationsRead("t", "ann", undefined, now)).toBe(0);
      expect(await s.unreadNotifications("t", "bob", now)).toBe(1);
    });

    test("last seen keeps the latest time per user", async () => {
      await s.setLastSeen("t", "ann", 2000);
      await s.setLastSeen("t", "ann", 1000);
      await s.setLastSeen("t", "bob", 500);
      expect(await s.lastSeen("t", ["ann", "bob", "cy"])).toEqual(new Map([["ann", 2000], ["bob", 500]]));
    });

    test("a status is kept per user until cleared, per tenant", async () => {
      await s.setStatus("t", "ann", "busy", "in clinic", 10);
      await s.setStatus("t", "ann", "in_call", null, 20);
      await s.setStatus("t", "bob", "away", null, 5);
      await s.setStatus("t2", "ann", "offline", null, 5);
      expect(await s.statuses("t", ["ann", "bob", "cy"])).toEqual(
        new Map([
          ["ann", { status: "in_call", text: null, updatedMs: 20 }],
          ["bob", { status: "away", text: null, updatedMs: 5 }],
        ]),
      );
      await s.clearStatus("t", "ann");
      expect([...(await s.statuses("t", ["ann", "bob"])).keys()]).toEqual(["bob"]);
      expect((await s.statuses("t2", ["ann"])).get("ann")?.status).toBe("offline");
    });

    test("writes of one turn commit together and everything survives a restart", async () => {
      await s.putConversation("t", "c", { title: "x", members: ["ann", "bob"] }, 1);
      await Promise.all([
        ...Array.from({ length: 200 }, (_, i) => s.appendMessage("t", "c", msg(i + 1, "bob"), null)),
        s.markRead("t", "c", "ann", 150, 5),
        s.setLastSeen("t", "ann", 9),
      ]);
      await s.stop();
      const again = await h.reopen();
      expect((await again.unreadCounts("t", "ann", Date.now())).total).toBe(50);
      expect((await again.messagesBefore("t", "c", undefined, 1000, Date.now())).messages.length).toBe(200);
      expect(again.health()).toMatchObject({ up: true, schema: LATEST_SCHEMA });
    });
  });
}

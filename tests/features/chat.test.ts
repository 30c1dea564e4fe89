import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { startReceiver } from "../helpers/http-receiver.ts";
import { token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient, type Frame } from "../helpers/ws-client.ts";
import { MIXED_RUNTIME_SETUP, SETUPS, type Deployment } from "./setups.ts";

// Real PostgreSQL and Redis processes are started, stopped and restarted here.
setDefaultTimeout(60_000);

const T = "acme";
const CH = "chat:visit-1";

async function user(s: TestServer, sub: string, tenant = T): Promise<TestClient> {
  return (await TestClient.auth(s.wsUrl, await token({ sub, tenant }))).client;
}

async function put(s: TestServer, id: string, members: string[], tenant = T): Promise<Response> {
  return s.api(`/v1/conversations/${id}`, { method: "PUT", json: { tenant, members, title: "Visit" } });
}

const msgs = (c: TestClient, ch = CH) => c.frames.filter((f) => f.t === "msg" && f.ch === ch);

// The last deployment puts one node on Node: the records-first chat path through node-postgres, beside a Bun node.
for (const setup of [...SETUPS, MIXED_RUNTIME_SETUP]) {
  describe(`chat on ${setup.name}`, () => {
    let d: Deployment;
    let ann: TestClient;
    let bob: TestClient;
    const offs: string[] = [];
    const ahead = () => String(BigInt(offs.at(-1)!) + 1000n);

    beforeAll(async () => {
      d = await setup.start();
    });
    afterAll(async () => {
      ann?.close();
      bob?.close();
      await d?.stop();
    });

    test("membership through the HTTP API lets users in without claims; others and other tenants stay out", async () => {
      const res = await put(d.a, "visit-1", ["bob", "ann", "ann"]);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ id: "visit-1", members: ["ann", "bob"] });
      ann = await user(d.a, "ann");
      bob = await user(d.b, "bob");
      expect(await ann.request({ t: "sub", ch: CH })).toMatchObject({ t: "ok", recovered: true });
      expect(await bob.request({ t: "sub", ch: CH })).toMatchObject({ t: "ok" });
      const cy = await user(d.b, "cy");
      expect(await cy.request({ t: "sub", ch: CH })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
      expect(await cy.request({ t: "pub", ch: CH, ev: "message", data: { text: "let me in" } })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
      cy.close();
      const stranger = await user(d.a, "ann", "globex");
      expect(await stranger.request({ t: "sub", ch: CH })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
      expect(await stranger.request({ t: "unread" })).toMatchObject({ t: "ok", total: 0, conversations: [] });
      stranger.close();
      const other = await d.b.api(`/v1/users/ann/conversations?tenant=globex`);
      expect(await other.json()).toEqual({ conversations: [], unread: 0 });
    });

    test("typing reaches the other member, is never echoed, takes no offset and is not in history", async () => {
      ann.send({ t: "typing", ch: CH });
      const seen = await bob.next((f) => f.t === "typing");
      expect(seen).toEqual({ t: "typing", ch: CH, user: "ann", conn: expect.any(String), active: true, expires: 5000 });
      ann.send({ t: "typing", ch: CH, active: false });
      expect(await bob.next((f) => f.t === "typing" && f.active === false)).toMatchObject({ user: "ann" });
      const ok = await ann.request({ t: "pub", ch: CH, ev: "message", data: { text: "hello 1" } });
      expect(ok.t).toBe("ok");
      expect(ok.off).toMatch(/^[1-9]\d*$/);
      offs.push(ok.off);
      await bob.next((f) => f.t === "msg" && f.off === ok.off);
      expect(ann.frames.some((f) => f.t === "typing")).toBe(false);
      const hist = await bob.request({ t: "history", ch: CH, limit: 100 });
      expect(hist.messages.map((m: Frame) => m.t)).toEqual(["msg"]);
    });

    test("persisted messages: ok carries the offset; a message older than the engine window comes back by paging", async () => {
      for (let i = 2; i <= 8; i++) {
        const ok = await (i % 2 ? ann : bob).request({ t: "pub", ch: CH, ev: "message", data: { text: `hello ${i}` } });
        expect(ok.t).toBe("ok");
        expect(BigInt(ok.off)).toBe(BigInt(offs.at(-1)!) + 1n);
        offs.push(ok.off);
      }
      await bob.next((f) => f.t === "msg" && f.off === offs[7]);
      const window = await ann.request({ t: "history", ch: CH, limit: 100 });
      expect(window.messages.map((m: Frame) => m.off)).toEqual(offs.slice(3));
      const page = await ann.request({ t: "messages", ch: CH, before: offs[3], limit: 2 });
      expect(page).toMatchObject({ t: "ok", more: true });
      expect(page.messages.map((m: Frame) => [m.off, m.data.text, m.from])).toEqual([
        [offs[1], "hello 2", "bob"],
        [offs[2], "hello 3", "ann"],
      ]);
      const http = await (await d.b.api(`/v1/conversations/visit-1/messages?tenant=${T}&before=${offs[2]}&limit=10`)).json();
      expect(http).toEqual({ messages: [{ t: "msg", ch: CH, off: offs[0], ev: "message", data: { text: "hello 1" }, from: "ann", ts: expect.any(Number) }, expect.objectContaining({ off: offs[1] })], more: false });
    });

    test("read receipts: one position per user, read events to the others, unread counts over WS and HTTP", async () => {
      // ann wrote 1,3,5,7; bob wrote 2,4,6,8. ann reads up to 6: unread for her is 8 only.
      const r = await ann.request({ t: "read", ch: CH, off: offs[5] });
      expect(r).toEqual({ t: "ok", id: r.id, off: offs[5], unread: 1, total: 1 });
      expect(await bob.next((f) => f.t === "read")).toEqual({ t: "read", ch: CH, user: "ann", off: offs[5] });
      expect((await ann.request({ t: "read", ch: CH, off: offs[1] })).off).toBe(offs[5]);
      const bobCounts = await bob.request({ t: "unread" });
      expect(bobCounts).toMatchObject({ t: "ok", total: 4, conversations: [{ id: "visit-1", unread: 4 }] });
      const list = await (await d.a.api(`/v1/users/ann/conversations?tenant=${T}`)).json();
      expect(list.conversations).toEqual([{ id: "visit-1", title: "Visit", lastMessage: expect.objectContaining({ off: offs[7], data: { text: "hello 8" } }), unread: 1 }]);
      expect(await (await d.b.api(`/v1/users/bob/unread?tenant=${T}`)).json()).toEqual({ conversations: [{ id: "visit-1", unread: 4 }], total: 4 });
    });

    test("after a restart of every process: counts, messages and recovery are intact", async () => {
      ann.close();
      bob.close();
      await d.restartAll();
      ann = await user(d.a, "ann");
      bob = await user(d.b, "bob");
      expect(await ann.request({ t: "unread" })).toMatchObject({ total: 1 });
      expect(await (await d.b.api(`/v1/users/bob/unread?tenant=${T}`)).json()).toMatchObject({ total: 4 });
      const sub = await bob.request({ t: "sub", ch: CH, since: offs[5] });
      expect(sub).toMatchObject({ t: "ok", recovered: true, missed: 2 });
      expect(msgs(bob).map((f) => f.off)).toEqual(offs.slice(6));
      expect(await ann.request({ t: "sub", ch: CH })).toMatchObject({ t: "ok", off: offs[7] });
      const ok = await ann.request({ t: "pub", ch: CH, ev: "message", data: { text: "after restart" } });
      expect(BigInt(ok.off)).toBeGreaterThan(BigInt(offs[7]!));
      offs.push(ok.off);
      const page = await (await d.a.api(`/v1/conversations/visit-1/messages?tenant=${T}&limit=100`)).json();
      expect(page.messages.map((m: Frame) => m.off)).toEqual(offs);
    });

    test("a redaction drops the content, keeps who and when, and tells the subscribers", async () => {
      const res = await d.a.api(`/v1/conversations/visit-1/messages/${offs[2]}/redact`, { method: "POST", json: { tenant: T, by: "dr-who" } });
      expect(await res.json()).toEqual({ redacted: true });
      expect(await bob.next((f) => f.t === "redact")).toEqual({ t: "redact", ch: CH, off: offs[2], by: "dr-who", ts: expect.any(Number) });
      const page = await ann.request({ t: "messages", ch: CH, before: offs[3], limit: 1 });
      expect(page.messages[0]).toMatchObject({ off: offs[2], data: null, redacted: { by: "dr-who" } });
      const missing = await d.a.api(`/v1/conversations/visit-1/messages/${ahead()}/redact`, { method: "POST", json: { tenant: T, by: "dr-who" } });
      expect(missing.status).toBe(404);
    });

    test("a redaction inside the engine window: history, since and recovery after reconnect on both nodes have only the redacted form", async () => {
      const secret = await ann.request({ t: "pub", ch: CH, ev: "message", data: { text: "dosage 5mg secret" } });
      const after = await bob.request({ t: "pub", ch: CH, ev: "message", data: { text: "noted" } });
      offs.push(secret.off, after.off);
      await bob.next((f) => f.t === "msg" && f.off === after.off);
      const res = await d.b.api(`/v1/conversations/visit-1/messages/${secret.off}/redact`, { method: "POST", json: { tenant: T, by: "dr-who" } });
      expect(await res.json()).toEqual({ redacted: true });
      await ann.next((f) => f.t === "redact" && f.off === secret.off);
      for (const [node, who] of [[d.a, "ann"], [d.b, "bob"]] as const) {
        const c = await user(node, who);
        const hist = await c.request({ t: "history", ch: CH, limit: 100 });
        expect(hist.messages.map((m: Frame) => m.off)).toContain(secret.off);
        expect(JSON.stringify(hist)).not.toContain("dosage 5mg");
        expect(hist.messages.find((m: Frame) => m.off === secret.off)).toMatchObject({ data: null, from: "ann", redacted: { by: "dr-who" } });
        // A client that had seen the message before it: recovered, the redacted message in its place, then the rest.
        const sub = await c.request({ t: "sub", ch: CH, since: offs.at(-3) });
        expect(sub).toMatchObject({ t: "ok", recovered: true, missed: 2 });
        expect(msgs(c).map((f) => f.off)).toEqual([secret.off, after.off]);
        expect(msgs(c)[0]).toMatchObject({ data: null, redacted: { by: "dr-who" } });
        expect(msgs(c)[1]).toMatchObject({ data: { text: "noted" } });
        expect(JSON.stringify(c.frames)).not.toContain("dosage 5mg");
        c.close();
      }
      // Reconnect: bob's connection goes, comes back on the other node, and recovers from before the secret.
      bob.close();
      bob = await user(d.a, "bob");
      const back = await bob.request({ t: "sub", ch: CH, since: offs.at(-3) });
      expect(back).toMatchObject({ t: "ok", recovered: true });
      expect(JSON.stringify(bob.frames)).not.toContain("dosage 5mg");
      const http = await (await d.a.api(`/v1/conversations/visit-1/messages?tenant=${T}&limit=100`)).json();
      expect(JSON.stringify(http)).not.toContain("dosage 5mg");
    });

    test("publishes from both nodes at once: consecutive offsets, one order for every subscriber, the same in the store", async () => {
      const bob2 = await user(d.b, "bob");
      expect(await bob2.request({ t: "sub", ch: CH })).toMatchObject({ t: "ok" });
      const n = 40;
      const answers = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? ann : bob2).request({ t: "pub", ch: CH, ev: "message", data: { text: `both ${i}` } })));
      expect(answers.filter((a) => a.t !== "ok")).toEqual([]);
      const acked = answers.map((a) => BigInt(a.off)).sort((x, y) => (x < y ? -1 : 1));
      expect(acked.every((o, i) => i === 0 || o === acked[i - 1]! + 1n)).toBe(true);
      const lastOff = String(acked.at(-1));
      for (const c of [ann, bob2]) await c.next((f) => f.t === "msg" && f.off === lastOff);
      const seen = (c: TestClient) => msgs(c).filter((f) => String(f.data?.text).startsWith("both ")).map((f) => `${f.off}:${f.data.text}`);
      expect(seen(ann)).toHaveLength(n);
      expect(seen(bob2)).toEqual(seen(ann));
      const page = await (await d.a.api(`/v1/conversations/visit-1/messages?tenant=${T}&limit=${n}`)).json();
      expect(page.messages.map((m: Frame) => `${m.off}:${m.data.text}`)).toEqual(seen(ann));
      offs.push(lastOff);
      bob2.close();
    });

    test("a chat publication is a webhook event, like any other publication", async () => {
      const rx = startReceiver();
      try {
        const hook = await d.a.api("/v1/webhooks", { method: "POST", json: { tenant: T, url: rx.url + "/hook", events: ["publication"], namespaces: ["chat"] } });
        expect(hook.status).toBe(201);
        const ok = await ann.request({ t: "pub", ch: CH, ev: "message", data: { text: "to the backend" } });
        expect(ok.t).toBe("ok");
        offs.push(ok.off);
        const [got] = await rx.waitFor(1, (r) => r.json?.type === "publication");
        expect(got!.json).toMatchObject({ type: "publication", tenant: T, data: { ch: CH, off: ok.off, ev: "message", data: { text: "to the backend" }, from: "ann" } });
        expect((await d.a.api(`/v1/webhooks/${(await hook.json()).id}?tenant=${T}`, { method: "DELETE" })).status).toBeLessThan(300);
      } finally {
        rx.stop();
      }
    });

    test("removal through the HTTP API ends the live subscription at once with a clear code; an added user gets in", async () => {
      const res = await put(d.a, "visit-1", ["ann", "cy"]);
      expect(await res.json()).toEqual({ id: "visit-1", members: ["ann", "cy"] });
      expect(await bob.next((f) => f.t === "err" && f.ch === CH)).toEqual({ t: "err", ch: CH, code: "AUTHORIZATION_FAILED", msg: "removed from the conversation" });
      const before = msgs(bob).length;
      expect(await bob.request({ t: "pub", ch: CH, ev: "message", data: { text: "still here?" } })).toMatchObject({ code: "AUTHORIZATION_FAILED" });
      expect(await bob.request({ t: "messages", ch: CH })).toMatchObject({ code: "AUTHORIZATION_FAILED" });
      const cy = await user(d.b, "cy");
      expect(await cy.request({ t: "sub", ch: CH })).toMatchObject({ t: "ok" });
      const ok = await ann.request({ t: "pub", ch: CH, ev: "message", data: { text: "welcome cy" } });
      await cy.next((f) => f.t === "msg" && f.off === ok.off);
      expect(msgs(bob).length).toBe(before);
      cy.close();
    });

    test("bad input to every chat frame and route gets a clear code", async () => {
      const bad: [Frame, string][] = [
        [{ t: "typing", ch: CH, extra: 1 }, "VALIDATION_ERROR"],
        [{ t: "read", ch: CH }, "VALIDATION_ERROR"],
        [{ t: "read", ch: CH, off: 5 }, "VALIDATION_ERROR"],
        [{ t: "read", ch: CH, off: ahead() }, "BAD_REQUEST"],
        [{ t: "read", ch: "user:ann", off: "1" }, "BAD_REQUEST"],
        [{ t: "unread", all: true }, "VALIDATION_ERROR"],
        [{ t: "messages", ch: CH, limit: 1000 }, "VALIDATION_ERROR"],
        [{ t: "messages", ch: "nope:x" }, "RESOURCE_NOT_FOUND"],
        [{ t: "typing", ch: "chat:elsewhere" }, "BAD_REQUEST"],
      ];
      for (const [frame, code] of bad) expect([JSON.stringify(frame), (await ann.request(frame)).code]).toEqual([JSON.stringify(frame), code]);
      const routes: [string, RequestInit & { json?: unknown }, number, string][] = [
        ["/v1/conversations/visit-1", { method: "PUT", json: { tenant: T } }, 400, "members: is required"],
        ["/v1/conversations/visit-1", { method: "PUT", json: { tenant: T, members: ["a"], colour: "red" } }, 400, "colour: unknown field"],
        ["/v1/conversations/bad%20id", { method: "PUT", json: { tenant: T, members: ["a"] } }, 400, "id: must be"],
        ["/v1/conversations/visit-1/messages?tenant=acme&limit=0", {}, 400, "limit: must be"],
        ["/v1/conversations/visit-1/messages?tenant=acme&page=2", {}, 400, "page: unknown query parameter"],
        ["/v1/conversations/nobody-here?tenant=acme", {}, 404, "no such conversation"],
        ["/v1/direct-conversations", { method: "PUT", json: { tenant: T, users: ["ann"] } }, 400, "users: must name exactly two users"],
        ["/v1/conversations/visit-1/messages/1/redact", { method: "POST", json: { tenant: T } }, 400, "by: is required"],
        ["/v1/conversations/visit-1/messages/x/redact", { method: "POST", json: { tenant: T, by: "a" } }, 400, "off: must be"],
        ["/v1/users/ann/unread?tenant=acme&all=1", {}, 400, "all: unknown query parameter"],
        ["/v1/users/ann/conversations?tenant=bad%20tenant", {}, 400, "tenant: must be"],
      ];
      for (const [path, init, status, text] of routes) {
        const r = await d.b.api(path, init);
        const body = await r.json();
        expect([path, r.status, body.error.code === "VALIDATION_ERROR" || body.error.code === "RESOURCE_NOT_FOUND", body.error.message]).toEqual([path, status, true, expect.stringContaining(text)]);
      }
      const noKey = await fetch(d.a.url + `/v1/users/ann/conversations?tenant=${T}`);
      expect(noKey.status).toBe(401);
    });

    test("a direct conversation has one stable id whoever creates it", async () => {
      const one = await (await d.a.api("/v1/direct-conversations", { method: "PUT", json: { tenant: T, users: ["zed", "ann"] } })).json();
      const two = await (await d.b.api("/v1/direct-conversations", { method: "PUT", json: { tenant: T, users: ["ann", "zed"] } })).json();
      expect(one).toEqual({ id: "dm:ann:zed", members: ["ann", "zed"] });
      expect(two).toEqual(one);
      expect(await ann.request({ t: "sub", ch: "chat:dm:ann:zed" })).toMatchObject({ t: "ok" });
    });

    if (setup.name.includes("PostgreSQL")) {
      test("PostgreSQL stopped mid-run: no subscriber, live or recovering, gets a message whose publisher got an error; every acknowledged one is stored", async () => {
        const pg = d.postgres!;
        const since = (await ann.request({ t: "history", ch: CH, limit: 1 })).off as string;
        expect(since).toMatch(/^[1-9]\d*$/);
        const watchers = [await user(d.b, "cy"), await user(d.a, "cy")];
        for (const w of watchers) expect(await w.request({ t: "sub", ch: CH })).toMatchObject({ t: "ok" });
        const acked = new Set<string>();
        const refused = new Set<string>();
        let round = 0;
        let halted: Promise<void> | undefined;
        while (refused.size === 0 || round < 40) {
          if (round === 3) halted = pg.halt();
          const texts = Array.from({ length: 10 }, (_, i) => `outage ${round}.${i}`);
          const answers = await Promise.all(texts.map((text) => ann.request({ t: "pub", ch: CH, ev: "message", data: { text } })));
          answers.forEach((a, i) => (a.t === "ok" ? acked : refused).add(texts[i]!));
          for (const a of answers) if (a.t === "err") expect(a.code).toBe("SERVICE_UNAVAILABLE");
          if (++round > 400) throw new Error("no publish was refused while PostgreSQL was down");
        }
        await halted;
        await pg.restart();
        for (const node of [d.a, d.b]) await until(async () => ((await fetch(node.url + "/health/ready")).status === 200 ? true : undefined), "ready again");
        const last = await ann.request({ t: "pub", ch: CH, ev: "message", data: { text: "outage over" } });
        expect(last.t).toBe("ok");
        const texts = (frames: Frame[]) => frames.filter((f) => f.t === "msg" && f.ch === CH && String(f.data?.text).startsWith("outage ")).map((f) => f.data.text as string);
        const recovering = await user(d.b, "cy");
        expect(await recovering.request({ t: "sub", ch: CH, since })).toMatchObject({ t: "ok" });
        for (const w of [...watchers, recovering]) {
          await w.next((f) => f.t === "msg" && f.off === last.off);
          const got = texts(w.frames).filter((t) => t !== "outage over");
          expect(got.filter((t) => refused.has(t))).toEqual([]);
          expect(got.every((t) => acked.has(t))).toBe(true);
          w.close();
        }
        const stored = new Set<string>();
        let before: string | undefined;
        for (;;) {
          const page = await (await d.b.api(`/v1/conversations/visit-1/messages?tenant=${T}&limit=100${before ? `&before=${before}` : ""}`)).json();
          for (const m of page.messages as Frame[]) stored.add(String(m.data?.text));
          if (!page.more) break;
          before = page.messages[0].off;
        }
        expect([...acked].filter((t) => !stored.has(t))).toEqual([]);
        expect([...refused].filter((t) => stored.has(t))).toEqual([]);
      });

      test("a PostgreSQL outage refuses publishes with SERVICE_UNAVAILABLE, turns readiness 503, and recovers with nothing acknowledged lost", async () => {
        const pg = d.postgres!;
        await pg.halt();
        const refused = await until(async () => {
          const r = await ann.request({ t: "pub", ch: CH, ev: "message", data: { text: "during outage" } });
          return r.t === "err" ? r : undefined;
        }, "a refused publish");
        expect(refused.code).toBe("SERVICE_UNAVAILABLE");
        const ready = await fetch(d.a.url + "/health/ready");
        expect(ready.status).toBe(503);
        expect((await ready.json()).reason).toContain("record store unavailable");
        await pg.restart();
        for (const node of [d.a, d.b]) await until(async () => ((await fetch(node.url + "/health/ready")).status === 200 ? true : undefined), "ready again");
        const ok = await ann.request({ t: "pub", ch: CH, ev: "message", data: { text: "after outage" } });
        expect(ok.t).toBe("ok");
        const page = await (await d.b.api(`/v1/conversations/visit-1/messages?tenant=${T}&limit=100`)).json();
        const stored = page.messages.map((m: Frame) => m.off);
        for (const f of ann.frames.filter((x) => x.t === "ok" && typeof x.off === "string" && x.recovered === undefined)) expect(stored).toContain(f.off);
        expect(page.messages.at(-1).data).toEqual({ text: "after outage" });
      });
    }
  });
}

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient, type Frame } from "../helpers/ws-client.ts";
import { CALL_SETUPS, TURN_SECRET, type CallDeployment } from "./call-setups.ts";

const T = "clinic";

async function device(s: TestServer, sub: string, claims: Record<string, unknown> = {}): Promise<TestClient> {
  return (await TestClient.auth(s.wsUrl, await token({ sub, tenant: T, ...claims }))).client;
}

const callEvent = (id: string, ev: string) => (f: Frame) => f.t === "call" && f.call?.id === id && f.ev === ev;
const mentions = (id: string) => (f: Frame) => JSON.stringify(f).includes(id);

async function invite(from: TestClient, to: string[], extra: Record<string, unknown> = {}): Promise<Frame> {
  const ok = await from.request({ t: "invite", to, media: "video", ...extra });
  expect(ok).toMatchObject({ t: "ok", call: { state: "ringing" } });
  return ok.call;
}

for (const setup of CALL_SETUPS) {
  describe(`calls on ${setup.name}`, () => {
    let d: CallDeployment;
    let A: TestServer, B: TestServer, C: TestServer;
    let doc: TestClient; // caller, on node A
    let patB: TestClient; // the patient's phone, on node B
    let patC: TestClient; // the patient's laptop, on node C
    let nurse: TestClient; // same tenant, never in a call, on node A

    beforeAll(async () => {
      d = await setup.start();
      [A, B, C] = d.nodes;
      [doc, patB, patC, nurse] = await Promise.all([device(A, "doc"), device(B, "pat"), device(C, "pat"), device(A, "nurse")]);
    });
    afterAll(async () => {
      for (const c of [doc, patB, patC, nurse]) c?.close();
      await d?.stop();
    });

    test("invite on A rings both of the patient's devices (B, C); one accepts, the other is answered elsewhere", async () => {
      const call = await invite(doc, ["pat"], { context: { visit: "v-17" } });
      expect(call).toMatchObject({ caller: "doc", media: "video", context: { visit: "v-17" }, participants: [{ user: "doc", role: "caller", state: "joined" }, { user: "pat", role: "invitee", state: "ringing" }] });
      for (const dev of [patB, patC]) expect((await dev.next(callEvent(call.id, "ringing"))).call.context).toEqual({ visit: "v-17" });
      expect(await patC.request({ t: "accept", call: call.id })).toMatchObject({ t: "ok", call: { state: "live" } });
      expect((await doc.next(callEvent(call.id, "accepted"))).user).toBe("pat");
      expect(await patB.next(callEvent(call.id, "answered_elsewhere"))).toMatchObject({ user: "pat", call: { state: "live" } });
      expect(patB.count(callEvent(call.id, "accepted"))).toBe(0);
      // The phone that rang but lost cannot take the call over by accepting.
      expect(await patB.request({ t: "accept", call: call.id })).toMatchObject({ t: "err", code: "CONFLICT" });

      // Signalling reaches the accepting device only, in order, with the sender named.
      doc.send({ t: "offer", call: call.id, data: { type: "offer", sdp: "v=0 offer" } });
      expect(await patC.next((f) => f.t === "offer")).toEqual({ t: "offer", call: call.id, from: "doc", data: { type: "offer", sdp: "v=0 offer" } });
      expect(await patC.request({ t: "answer", call: call.id, to: "doc", data: { type: "answer", sdp: "v=0 answer" } })).toMatchObject({ t: "ok" });
      expect(await doc.next((f) => f.t === "answer")).toMatchObject({ from: "pat", data: { sdp: "v=0 answer" } });
      expect(patB.count((f) => f.t === "offer" || f.t === "ice")).toBe(0);

      // A tenant member outside the call cannot inject, read or subscribe to it.
      expect(await nurse.request({ t: "ice", call: call.id, data: { candidate: "forged" } })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
      expect(await nurse.request({ t: "call_get", call: call.id })).toMatchObject({ t: "err", code: "RESOURCE_NOT_FOUND" });
      expect(await nurse.request({ t: "sub", ch: `call:${call.id}` })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
      expect(await nurse.request({ t: "hangup", call: call.id })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
      // ...while participants may use the call's channel without a token naming it.
      expect(await doc.request({ t: "sub", ch: `call:${call.id}` })).toMatchObject({ t: "ok" });

      // A 500-candidate ICE burst passes (the chat frame limit is 50/s, burst 100), in order.
      for (let i = 0; i < 500; i++) doc.send({ t: "ice", call: call.id, data: { candidate: `c${i}` } });
      const got = await patC.waitCount((f) => f.t === "ice", 500);
      expect(got.map((f) => f.data.candidate)).toEqual(Array.from({ length: 500 }, (_, i) => `c${i}`));
      expect(doc.count((f) => f.t === "err")).toBe(0);

      // An unbounded flood is refused with RATE_LIMIT_EXCEEDED; what was accepted is relayed, nothing else.
      const base = 100_000;
      for (let i = 0; i < 4000; i++) doc.send({ t: "ice", id: base + i, call: call.id, data: { candidate: `f${i}` } });
      const answers = await doc.waitCount((f) => (f.t === "ok" || f.t === "err") && f.id >= base, 4000, 30_000);
      const refused = answers.filter((f) => f.t === "err");
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((f) => f.code === "RATE_LIMIT_EXCEEDED")).toBe(true);
      const passed = 4000 - refused.length;
      expect(passed).toBeGreaterThanOrEqual(500);
      await patC.waitCount((f) => f.t === "ice" && String(f.data.candidate).startsWith("f"), passed);

      // Quality reports from both ends, then hang up: every device learns the end.
      expect(await doc.request({ t: "call_stats", call: call.id, rttMs: 40, jitterMs: 4, lossPct: 0.5, bitrateKbps: 900 })).toMatchObject({ t: "ok" });
      expect(await patC.request({ t: "call_stats", call: call.id, rttMs: 60, jitterMs: 8, lossPct: 1.5, bitrateKbps: 700 })).toMatchObject({ t: "ok" });
      expect(await patC.request({ t: "hangup", call: call.id })).toMatchObject({ t: "ok", call: { state: "ended", outcome: "answered", endedBy: "pat" } });
      for (const dev of [doc, patB]) expect(await dev.next(callEvent(call.id, "ended"))).toMatchObject({ call: { outcome: "answered", reason: "hangup" } });
      // Out of the call, out of its channel, at once.
      expect(await doc.next((f) => f.t === "err" && f.ch === `call:${call.id}`)).toMatchObject({ code: "AUTHORIZATION_FAILED", msg: "no longer in the call" });
      expect(await doc.request({ t: "ice", call: call.id, data: {} })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });

      const rec = await (await B.api(`/v1/calls/${call.id}?tenant=${T}`)).json();
      expect(rec).toMatchObject({ id: call.id, caller: "doc", state: "ended", outcome: "answered", endedBy: "pat", context: { visit: "v-17" } });
      expect(rec.participants.map((p: Frame) => [p.user, p.state])).toEqual([["doc", "left"], ["pat", "left"]]);
      expect(rec.answeredTs).toBeGreaterThanOrEqual(rec.ts);
      expect(rec.endedTs).toBeGreaterThanOrEqual(rec.answeredTs);
      expect(rec.quality).toEqual({ samples: 2, rttMs: { mean: 50, max: 60 }, jitterMs: { mean: 6, max: 8 }, lossPct: { mean: 1, max: 1.5 }, bitrateKbps: { mean: 800, min: 700 } });
      const list = await (await C.api(`/v1/users/pat/calls?tenant=${T}`)).json();
      expect(list.calls[0]).toMatchObject({ id: call.id, outcome: "answered" });

      // The outsider never saw any of it (checked after a marker that reaches it later).
      await A.api("/v1/notifications", { method: "POST", json: { tenant: T, users: ["nurse"], type: "marker", title: "m" } });
      await nurse.next((f) => f.t === "inbox");
      expect(nurse.frames.filter((f) => f.t !== "ok" && f.t !== "err" && mentions(call.id)(f))).toEqual([]);
    }, 60_000);

    test("a backend invite over HTTP; the patient rejects from one device: every device stops ringing, the call ends rejected", async () => {
      const res = await A.api("/v1/calls", { method: "POST", json: { tenant: T, from: "doc", to: ["pat"], media: "audio" } });
      expect(res.status).toBe(200);
      const call = (await res.json()).call;
      expect(await doc.next(callEvent(call.id, "state"))).toMatchObject({ call: { caller: "doc", state: "ringing" } });
      for (const dev of [patB, patC]) await dev.next(callEvent(call.id, "ringing"));
      expect(await patB.request({ t: "reject", call: call.id })).toMatchObject({ t: "ok", call: { state: "ended", outcome: "rejected" } });
      for (const dev of [doc, patC]) {
        await dev.next(callEvent(call.id, "rejected"));
        expect(await dev.next(callEvent(call.id, "ended"))).toMatchObject({ call: { outcome: "rejected", endedBy: "pat" } });
      }
      expect(await patC.request({ t: "accept", call: call.id })).toMatchObject({ t: "err", code: "CONFLICT" });
    });

    test("the caller cancels before an answer", async () => {
      const call = await invite(doc, ["pat"]);
      await patB.next(callEvent(call.id, "ringing"));
      expect(await patB.request({ t: "cancel", call: call.id })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
      expect(await doc.request({ t: "cancel", call: call.id })).toMatchObject({ t: "ok", call: { state: "ended", outcome: "cancelled" } });
      for (const dev of [patB, patC]) {
        await dev.next(callEvent(call.id, "cancelled"));
        expect(await dev.next(callEvent(call.id, "ended"))).toMatchObject({ call: { participants: [{ state: "left" }, { state: "cancelled" }] } });
      }
      expect((await (await C.api(`/v1/calls/${call.id}?tenant=${T}`)).json()).outcome).toBe("cancelled");
    });

    test("ring timeout: a missed event on every device and one inbox entry, once across the cluster", async () => {
      const call = await invite(doc, ["pat"], { ringMs: 1000, context: { visit: "v-18" } });
      for (const dev of [patB, patC]) expect(await dev.next(callEvent(call.id, "missed"), 20_000)).toMatchObject({ user: "pat", call: { state: "ended", outcome: "missed" } });
      expect(await doc.next(callEvent(call.id, "ended"))).toMatchObject({ call: { outcome: "missed", reason: "ring timeout", endedBy: null } });
      // A marker posted after the miss: once it is in, any duplicate would be too.
      const marks = [patB.frames.length, patC.frames.length];
      await A.api("/v1/notifications", { method: "POST", json: { tenant: T, users: ["pat"], type: "marker", title: "after" } });
      const inbox = await until(async () => {
        const r = await (await C.api(`/v1/users/pat/notifications?tenant=${T}`)).json();
        return r.notifications.some((n: Frame) => n.type === "marker" && n.title === "after") ? r : undefined;
      }, "the marker notification");
      const missed = inbox.notifications.filter((n: Frame) => n.type === "missed_call" && n.data.call === call.id);
      expect(missed).toHaveLength(1);
      expect(missed[0]).toMatchObject({ title: "Missed video call from doc", priority: "high", data: { caller: "doc", media: "video", context: { visit: "v-18" } } });
      for (const [i, dev] of [patB, patC].entries()) {
        await dev.next((f) => f.t === "inbox", 5000, marks[i]);
        expect(dev.count(callEvent(call.id, "missed"))).toBe(1);
      }
      const metrics = await Promise.all(d.nodes.filter((n, i) => d.nodes.indexOf(n) === i).map(async (n) => (await (await fetch(n.url + "/metrics")).text())));
      const endedMissed = metrics.map((m) => Number(/switchboard_calls_ended_total\{outcome="missed"\} (\d+)/.exec(m)?.[1] ?? 0)).reduce((a, b) => a + b, 0);
      expect(endedMissed).toBe(1);
    }, 30_000);

    test("a participant's connection is killed; it is held for the grace period and rejoins from a new connection", async () => {
      const call = await invite(doc, ["pat"]);
      await patB.next(callEvent(call.id, "ringing"));
      expect(await patB.request({ t: "accept", call: call.id })).toMatchObject({ t: "ok" });
      await doc.next(callEvent(call.id, "accepted"));
      // Killed: the TCP connection goes without a close frame.
      (patB.ws as WebSocket & { terminate(): void }).terminate();
      expect(await doc.next(callEvent(call.id, "away"), 10_000)).toMatchObject({ user: "pat", call: { state: "live", participants: [{ state: "joined" }, { state: "away" }] } });
      const back = await device(C, "pat");
      expect((await back.request({ t: "call_get", call: call.id })).call.participants[1].state).toBe("away");
      expect(await back.request({ t: "rejoin", call: call.id })).toMatchObject({ t: "ok", call: { state: "live", participants: [{ state: "joined" }, { state: "joined" }] } });
      await doc.next(callEvent(call.id, "joined"));
      doc.send({ t: "renegotiate", call: call.id, data: { reason: "ice-restart" } });
      expect(await back.next((f) => f.t === "renegotiate")).toMatchObject({ from: "doc", data: { reason: "ice-restart" } });

      // Dropped again and not back within the grace period: left, and with fewer than two the call ends.
      (back.ws as WebSocket & { terminate(): void }).terminate();
      expect(await doc.next(callEvent(call.id, "ended"), 30_000)).toMatchObject({ call: { outcome: "failed", reason: "connection lost" } });
      patB = await device(B, "pat");
    }, 60_000);

    test("group call: leave and rejoin; the call ends when fewer than two remain", async () => {
      const ann = await device(B, "ann");
      const call = await invite(doc, ["pat", "ann"]);
      await ann.next(callEvent(call.id, "ringing"));
      await patC.next(callEvent(call.id, "ringing"));
      await ann.request({ t: "accept", call: call.id });
      await patC.request({ t: "accept", call: call.id });
      doc.send({ t: "offer", call: call.id, data: { to: "all" } });
      await ann.next((f) => f.t === "offer" && f.data.to === "all");
      await patC.next((f) => f.t === "offer" && f.data.to === "all");
      expect(await ann.request({ t: "leave", call: call.id })).toMatchObject({ t: "ok", call: { state: "live" } });
      await doc.next(callEvent(call.id, "left"));
      expect(await ann.request({ t: "rejoin", call: call.id })).toMatchObject({ t: "ok", call: { state: "live" } });
      expect(await ann.request({ t: "leave", call: call.id })).toMatchObject({ t: "ok" });
      expect(await patC.request({ t: "leave", call: call.id })).toMatchObject({ t: "ok", call: { state: "ended", outcome: "answered", endedBy: "pat" } });
      await doc.next(callEvent(call.id, "ended"));
      ann.close();
    });

    test("ringing is published on user:<id>: a device that connects after the invite recovers it with since; the answer reaches it too", async () => {
      // The laptop follows its user channel; the phone that connects later recovers from the laptop's offset.
      const laptop = await device(C, "pat");
      const at = (await laptop.request({ t: "sub", ch: "user:pat" })).off;
      const call = await invite(doc, ["pat"], { ringMs: 20_000 });
      const live = await laptop.next((f) => f.t === "msg" && f.ch === "user:pat" && f.data.call?.id === call.id);
      expect(live).toMatchObject({ ev: "call", data: { ev: "ringing", user: "doc", call: { state: "ringing" } } });

      const phone = await device(B, "pat");
      const sub = await phone.request({ t: "sub", ch: "user:pat", since: at });
      expect(sub).toMatchObject({ t: "ok", recovered: true });
      const recovered = phone.frames.filter((f) => f.t === "msg" && f.ch === "user:pat" && f.data.call?.id === call.id);
      expect(recovered.map((f) => f.data.ev)).toEqual(["ringing"]);
      expect(recovered[0]!.data.call.ringUntil).toBeGreaterThan(Date.now());

      // The recovered device answers; the other learns the device that answered (answered elsewhere for it).
      expect(await phone.request({ t: "accept", call: call.id })).toMatchObject({ t: "ok", call: { state: "live" } });
      const accepted = await laptop.next((f) => f.t === "msg" && f.ch === "user:pat" && f.data.ev === "accepted" && f.data.call.id === call.id);
      expect(accepted.data.conn).toBe(phone.frames.find((f) => f.t === "hello")!.conn);
      expect(accepted.data.conn).not.toBe(laptop.frames.find((f) => f.t === "hello")!.conn);
      await doc.next(callEvent(call.id, "accepted"));
      await doc.request({ t: "hangup", call: call.id });
      // Once answered, the call's events go to the devices straight, like every participant's.
      await laptop.next(callEvent(call.id, "ended"));
      // Subscribed to its user channel, the device got the ringing and the answer there only, not a second time straight.
      expect(laptop.count((f) => f.t === "call" && f.call.id === call.id && ["ringing", "accepted", "answered_elsewhere"].includes(f.ev))).toBe(0);
      laptop.close();
      phone.close();
    }, 30_000);

    test("people are added to a live call: they ring, accept and join; the backend ends the call over HTTP for everyone", async () => {
      const ann = await device(B, "ann");
      const call = await invite(doc, ["pat"]);
      await patC.next(callEvent(call.id, "ringing"));
      // Not before it is answered, and not by an outsider.
      expect(await doc.request({ t: "invite", call: call.id, to: ["ann"] })).toMatchObject({ t: "err", code: "CONFLICT" });
      await patC.request({ t: "accept", call: call.id });
      expect(await nurse.request({ t: "invite", call: call.id, to: ["ann"] })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
      expect(await doc.request({ t: "invite", call: call.id, to: ["ann"], media: "audio" })).toMatchObject({ t: "err", code: "VALIDATION_ERROR" });

      const grown = await patC.request({ t: "invite", call: call.id, to: ["ann", "doc"] });
      expect(grown).toMatchObject({ t: "ok", call: { state: "live", participants: [{ user: "doc", state: "joined" }, { user: "pat", state: "joined" }, { user: "ann", role: "invitee", state: "ringing" }] } });
      expect(await ann.next(callEvent(call.id, "ringing"))).toMatchObject({ user: "ann", call: { state: "live" } });
      expect(await doc.next((f) => f.t === "call" && f.ev === "state" && f.user === "ann" && f.call.id === call.id)).toMatchObject({ call: { participants: [{}, {}, { user: "ann", state: "ringing" }] } });
      expect(await ann.request({ t: "accept", call: call.id })).toMatchObject({ t: "ok", call: { participants: [{ state: "joined" }, { state: "joined" }, { state: "joined" }] } });
      await doc.next((f) => callEvent(call.id, "accepted")(f) && f.user === "ann");
      doc.send({ t: "offer", call: call.id, to: "ann", data: { sdp: "to ann" } });
      expect(await ann.next((f) => f.t === "offer")).toMatchObject({ from: "doc", data: { sdp: "to ann" } });
      expect((await (await C.api(`/v1/users/ann/calls?tenant=${T}`)).json()).calls[0]).toMatchObject({ id: call.id });
      // Added by the backend and never answered: missed after its own ring time, the call goes on.
      const zed = await (await A.api(`/v1/calls/${call.id}/invitees`, { method: "POST", json: { tenant: T, from: "doc", to: ["zed"], ringMs: 1000 } })).json();
      expect(zed.call.participants[3]).toMatchObject({ user: "zed", state: "ringing", ringUntil: expect.any(Number) });
      expect(await doc.next(callEvent(call.id, "missed"), 15_000)).toMatchObject({ user: "zed", call: { state: "live" } });
      const inbox = await until(async () => {
        const r = await (await B.api(`/v1/users/zed/notifications?tenant=${T}`)).json();
        return r.notifications.find((n: Frame) => n.type === "missed_call" && n.data.call === call.id);
      }, "zed's missed-call entry");
      expect(inbox).toMatchObject({ title: "Missed video call from doc" });

      // The backend ends it: every participant's devices learn it, the record names who ended it, the API key is audited.
      expect((await A.api(`/v1/calls/${call.id}/end`, { method: "POST", json: { tenant: T, by: "nurse", color: 1 } })).status).toBe(400);
      const res = await A.api(`/v1/calls/${call.id}/end`, { method: "POST", json: { tenant: T, by: "nurse", reason: "visit closed" } });
      expect(res.status).toBe(200);
      expect((await res.json()).call).toMatchObject({ state: "ended", outcome: "answered", endedBy: "nurse", reason: "visit closed" });
      for (const dev of [doc, patC, ann]) expect(await dev.next(callEvent(call.id, "ended"))).toMatchObject({ user: "nurse", call: { endedBy: "nurse" } });
      expect(await (await B.api(`/v1/calls/${call.id}?tenant=${T}`)).json()).toMatchObject({ state: "ended", endedBy: "nurse", reason: "visit closed" });
      expect(A.logs.find((l) => l.msg === "api_call_end" && l.call === call.id)).toMatchObject({ audit: true, key: expect.any(Number), by: "nurse", outcome: "answered" });
      expect((await A.api(`/v1/calls/${call.id}/end`, { method: "POST", json: { tenant: T } })).status).toBe(409);
      ann.close();
    }, 30_000);

    test("ICE servers: STUN and TURN with coturn time-limited credentials", async () => {
      const ok = await doc.request({ t: "ice_servers" });
      expect(ok.iceServers[0]).toEqual({ urls: ["stun:stun.example.org:3478"] });
      const turn = ok.iceServers[1];
      expect(turn.urls).toEqual(["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"]);
      const [expiry, user] = turn.username.split(":");
      expect(user).toBe("doc");
      expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(500);
      expect(turn.credential).toBe(createHmac("sha1", TURN_SECRET).update(turn.username).digest("base64"));
      const http = await (await A.api("/v1/ice-servers?user=pat")).json();
      expect(http.iceServers[1].username.endsWith(":pat")).toBe(true);
      expect(JSON.stringify(A.logs)).not.toContain(TURN_SECRET);
    });

    test("bad input: unknown fields, self-invites and unknown calls get clear codes; audit lines carry no SDP or candidate", async () => {
      expect(await doc.request({ t: "invite", to: ["pat"], media: "video", sdp: "x" })).toMatchObject({ t: "err", code: "VALIDATION_ERROR", msg: "sdp: unknown field" });
      expect(await doc.request({ t: "invite", to: ["doc"], media: "audio" })).toMatchObject({ t: "err", code: "BAD_REQUEST" });
      expect(await doc.request({ t: "accept", call: "nope" })).toMatchObject({ t: "err", code: "RESOURCE_NOT_FOUND" });
      expect(await doc.request({ t: "call_stats", call: "nope", rttMs: -1, jitterMs: 0, lossPct: 0, bitrateKbps: 0 })).toMatchObject({ t: "err", code: "VALIDATION_ERROR" });
      const res = await A.api("/v1/calls", { method: "POST", json: { tenant: T, from: "doc", to: [], media: "video" } });
      expect(res.status).toBe(400);
      const audit = A.logs.filter((l) => l.audit === true && String(l.msg).startsWith("call_"));
      expect(audit.some((l) => l.msg === "call_signal" && l.kind === "offer")).toBe(true);
      expect(JSON.stringify(audit)).not.toContain("v=0");
      expect(JSON.stringify(A.logs)).not.toContain(`"c499"`);
    });
  });
}

import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CallEvent, CallInfo, CallSignal, SwitchboardClient } from "../../src/client/index.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { clientPool, nextEvent, withTimeout } from "./support.ts";

const pool = clientPool();
const servers: TestServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  pool.closeAll();
  await Promise.all(servers.splice(0).map((s) => s.stop("SIGKILL")));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function callEvent(c: SwitchboardClient, pred: (e: CallEvent) => boolean): Promise<CallEvent> {
  let stop = () => {};
  const p = new Promise<CallEvent>((resolve) => {
    stop = c.calls.on("call", (e) => pred(e) && resolve(e));
  });
  return withTimeout(p, 45_000, () => "no matching call event").finally(() => stop());
}

function signal(c: SwitchboardClient, pred: (s: CallSignal) => boolean): Promise<CallSignal> {
  let stop = () => {};
  const p = new Promise<CallSignal>((resolve) => {
    stop = c.calls.on("signal", (s) => pred(s) && resolve(s));
  });
  return withTimeout(p, 45_000, () => "no matching signal").finally(() => stop());
}

test("SDK: invite, ringing, accept, relayed signals; after a node crash both devices take the call back on reconnect", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-client-calls-"));
  dirs.push(dataDir);
  const a = await startServer({ dataDir, keepData: true });
  servers.push(a);
  const doc = pool.create(a.wsUrl, { token: await token({ sub: "doc", tenant: "clinic" }) });
  const pat = pool.create(a.wsUrl, { token: await token({ sub: "pat", tenant: "clinic" }) });
  await Promise.all([doc.connect(), pat.connect()]);

  const ringing = new Promise<CallEvent>((resolve) => pat.calls.on("ringing", resolve));
  const call = await doc.calls.invite(["pat"], { media: "audio", context: { visit: "v-9" } });
  expect(call).toMatchObject({ caller: "doc", media: "audio", state: "ringing", context: { visit: "v-9" } });
  const rang = await ringing;
  expect(rang.call.id).toBe(call.id);
  const accepted = callEvent(doc, (e) => e.ev === "accepted");
  expect((await pat.calls.accept(call.id)).state).toBe("live");
  expect((await accepted).user).toBe("pat");

  const offer = signal(pat, (s) => s.t === "offer");
  doc.calls.signal(call.id, "offer", { type: "offer", sdp: "v=0" });
  expect(await offer).toEqual({ t: "offer", call: call.id, from: "doc", data: { type: "offer", sdp: "v=0" } });
  await pat.calls.stats(call.id, { rttMs: 20, jitterMs: 1, lossPct: 0, bitrateKbps: 64 });
  expect((await pat.calls.iceServers()).iceServers).toEqual([]);

  // The node dies without closing anything; a new one on the same port and data comes up.
  const back = Promise.all([nextEvent(doc, "connected", undefined, 30_000), nextEvent(pat, "connected", undefined, 30_000)]);
  const resumed = (c: SwitchboardClient) => withTimeout(new Promise<CallInfo>((resolve) => c.calls.on("resumed", resolve)), 45_000, () => "not resumed");
  const rejoined = Promise.all([resumed(doc), resumed(pat)]);
  await a.stop("SIGKILL");
  servers.splice(0);
  const b = await startServer({ dataDir, keepData: true, port: a.port });
  servers.push(b);
  await back;
  // Both devices rejoined by themselves.
  for (const info of await rejoined) expect(info).toMatchObject({ id: call.id, state: "live" });
  // The rebinding took: signals reach the reconnected device, and the call ends for both.
  const ice = signal(pat, (s) => s.t === "ice" && s.call === call.id);
  doc.calls.signal(call.id, "ice", { candidate: "after-restart" });
  expect((await ice).data).toEqual({ candidate: "after-restart" });
  const ended = callEvent(pat, (e) => e.ev === "ended");
  expect((await doc.calls.hangup(call.id)).outcome).toBe("answered");
  expect((await ended).call.endedBy).toBe("doc");
}, 90_000);

test("SDK: a device that was offline during the invite rings when it reconnects (user:<id> recovery), and learns the call was answered elsewhere", async () => {
  const a = await startServer();
  servers.push(a);
  const tok = (sub: string) => token({ sub, tenant: "clinic" });
  const doc = pool.create(a.wsUrl, { token: await tok("doc") });
  const phone = pool.create(a.wsUrl, { token: await tok("pat") });
  const laptop = pool.create(a.wsUrl, { token: await tok("pat") });
  const seen: string[] = [];
  phone.calls.on("call", (e) => seen.push(e.ev));
  const followed = new Promise((resolve) => phone.subscribe("user:pat", (m) => phone.calls.fromUserChannel(m, phone.hello?.conn), { onSubscribed: resolve }));
  await Promise.all([doc.connect(), phone.connect(), laptop.connect()]);
  await followed;
  // The phone goes offline (its subscription keeps its offset); the call rings meanwhile.
  phone.close();
  const call = await doc.calls.invite(["pat"], { media: "video", ringMs: 30_000 });
  const rings = new Promise<CallEvent>((resolve) => phone.calls.on("ringing", resolve));
  await phone.connect();
  expect((await withTimeout(rings, 10_000, () => "the phone did not ring")).call).toMatchObject({ id: call.id, state: "ringing", caller: "doc" });

  // Offline again; the laptop answers. Back, the phone hears that the call was answered elsewhere.
  phone.close();
  await laptop.calls.accept(call.id);
  const elsewhere = callEvent(phone, (e) => e.ev === "answered_elsewhere");
  await phone.connect();
  expect((await elsewhere).call).toMatchObject({ id: call.id, state: "live" });
  expect(seen).toEqual(["ringing", "answered_elsewhere"]);
  await doc.calls.hangup(call.id);
}, 60_000);

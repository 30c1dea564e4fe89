import { afterAll, beforeAll, expect, test } from "bun:test";
import { startServer, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";

/** Issue 16: idle channel state is evicted (memory follows active channels), and offsets are never reused after it. */

let s: TestServer;
beforeAll(async () => {
  s = await startServer({ env: { CHANNEL_IDLE_SEC: "1" } });
});
afterAll(async () => {
  await s.stop();
});

async function channelsGauge(): Promise<number> {
  const text = await (await fetch(s.url + "/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith("switchboard_channels "));
  return Number(line?.split(" ")[1] ?? NaN);
}

async function broadcast(chs: string[]): Promise<string[]> {
  const r = await s.api("/v1/broadcast", { method: "POST", json: { tenant: "t1", chs, ev: "e", data: 1 } });
  expect(r.status).toBe(200);
  return ((await r.json()) as { offs: string[] }).offs;
}

test("1,000 channels published to once: their state is evicted when idle, and later offsets continue above the old ones", async () => {
  // user: keeps history (offsets from the store), call: has none (offsets from the clock).
  const chs = [...Array.from({ length: 500 }, (_, i) => `user:u${i}`), ...Array.from({ length: 500 }, (_, i) => `call:c${i}`)];
  const first = await broadcast(chs);
  const second = await broadcast(chs);
  for (let i = 0; i < chs.length; i++) expect(BigInt(second[i]!)).toBeGreaterThan(BigInt(first[i]!));
  expect(await channelsGauge()).toBeGreaterThanOrEqual(1000);
  await until(async () => ((await channelsGauge()) === 0 ? true : undefined), "idle channel state to be evicted", 15_000);
  const third = await broadcast(chs);
  for (let i = 0; i < chs.length; i++) expect(BigInt(third[i]!)).toBeGreaterThan(BigInt(second[i]!));
  // History channels continue exactly where they were.
  expect(third.slice(0, 500)).toEqual(Array(500).fill("3"));
  const h = (await (await s.api("/v1/channels/user:u7/history?tenant=t1")).json()) as { messages: { off: string }[] };
  expect(h.messages.map((m) => m.off)).toEqual(["1", "2", "3"]);
}, 60_000);

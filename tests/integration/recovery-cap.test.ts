import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

const dir = mkdtempSync(join(tmpdir(), "sb-cap-"));
let s: TestServer;
beforeAll(async () => {
  const config = join(dir, "switchboard.json");
  writeFileSync(config, JSON.stringify({ WS_RATE_LIMIT_PER_SEC: 0, namespaces: { log: { subscribe: ["tenant"], publish: ["tenant"], history: { size: 20_000, ttlSec: 3600 } } } }));
  s = await startServer({ env: { SWITCHBOARD_CONFIG: config } });
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a resubscribe sends at most 10,000 missed messages, in order from `since`, and says recovery failed", async () => {
  const jwt = await token({ sub: "writer", tenant: "t1" });
  const { client: w } = await TestClient.auth(s.wsUrl, jwt);
  const first = await w.request({ t: "pub", ch: "log:big", ev: "e", data: 0 });
  expect(first.t).toBe("ok");
  const total = 10_050;
  for (let i = 1; i <= total; i++) w.send({ t: "pub", id: 1000 + i, ch: "log:big", ev: "e", data: i });
  const acks = await w.waitCount((f) => f.t === "ok" && f.id > 1000, total, 60_000);
  const offs = acks.sort((a, b) => a.id - b.id).map((f) => f.off as string);

  const { client: r } = await TestClient.auth(s.wsUrl, await token({ sub: "reader", tenant: "t1" }));
  const ok = await r.request({ t: "sub", ch: "log:big", since: first.off }, 30_000);
  expect(ok).toMatchObject({ t: "ok", recovered: false, missed: 10_000, off: offs.at(-1) });
  const backlog = r.frames.filter((f) => f.t === "msg" && f.ch === "log:big");
  expect(backlog).toHaveLength(10_000);
  expect(backlog.map((f) => f.off)).toEqual(offs.slice(0, 10_000));
  expect(backlog[0]!.data).toBe(1);
  w.close();
  r.close();
}, 120_000);

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { token } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { SETUPS, type Deployment } from "./setups.ts";

// Real PostgreSQL, Redis and two Switchboard nodes are started, stopped and restarted here.
const T = "acme";
const setup = SETUPS.find((s) => s.name.startsWith("Redis"))!;

describe(`last seen across a record-store outage on ${setup.name}`, () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await setup.start();
  }, 60_000);
  afterAll(async () => {
    await d?.stop();
  });

  test("a user's last connection closing while PostgreSQL is down still reaches watchers as offline, with last seen, once it is back", async () => {
    const carol = (await TestClient.auth(d.b.wsUrl, await token({ sub: "carol", tenant: T }))).client;
    expect(await carol.request({ t: "watch", users: ["ann"] })).toMatchObject({ t: "ok", users: [{ user: "ann", online: false }] });
    const ann = (await TestClient.auth(d.a.wsUrl, await token({ sub: "ann", tenant: T }))).client;
    expect(await ann.request({ t: "status", status: "away" })).toMatchObject({ t: "ok" });
    await carol.next((f) => f.t === "status" && f.user === "ann" && f.status === "away");

    await d.postgres!.halt();
    const mark = carol.frames.length;
    ann.close();
    await ann.closed;
    // The node tried to record last seen and could not.
    await until(async () => (d.a.logs.some((l) => String(l.msg).startsWith("last seen not recorded")) ? true : undefined), "a failed last-seen write");
    await d.postgres!.restart();

    const gone = await carol.next((f) => f.t === "status" && f.user === "ann" && f.online === false, 25_000, mark);
    expect(gone).toEqual({ t: "status", user: "ann", status: "offline", online: false, lastSeen: expect.any(Number) });
    const r = await d.a.api(`/v1/users/status?tenant=${T}&ids=ann`);
    expect((await r.json()).users).toEqual([{ user: "ann", status: "offline", online: false, lastSeen: gone.lastSeen }]);
    carol.close();
  }, 60_000);
});

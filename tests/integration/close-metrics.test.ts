import { afterAll, beforeAll, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { until } from "../helpers/until.ts";

/** Issue 16: client-chosen close codes must not become one Prometheus series each. */

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s.stop();
});

const disconnectLines = async () => (await (await fetch(s.url + "/metrics")).text()).split("\n").filter((l) => l.startsWith("switchboard_disconnects_total{"));

test("200 sockets closing with 200 different codes make a handful of label values", async () => {
  const jwt = await token({ sub: "closer", tenant: "t1" });
  const codes = [...Array.from({ length: 100 }, (_, i) => 3000 + i * 7), ...Array.from({ length: 100 }, (_, i) => 4100 + i * 7)];
  for (const code of codes) {
    const c = await TestClient.connect(s.wsUrl + "?access_token=" + jwt);
    c.close(code);
    await c.closed;
  }
  await TestClient.connect(s.wsUrl + "?access_token=" + jwt).then((c) => (c.close(1000), c.closed));
  const lines = await until(async () => {
    const l = await disconnectLines();
    const total = l.reduce((n, line) => n + Number(line.split(" ").at(-1)), 0);
    return total >= codes.length + 1 ? l : undefined;
  }, "every close to be counted");
  const labels = lines.map((l) => /code="([^"]*)"/.exec(l)![1]).sort();
  expect(labels).toEqual(["1000", "3xxx", "4xxx"]);
  const count = (label: string) => Number(lines.find((l) => l.includes(`code="${label}"`))!.split(" ").at(-1));
  expect(count("3xxx")).toBe(100);
  expect(count("4xxx")).toBe(100);
}, 60_000);

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startReceiver, type HttpReceiver } from "../helpers/http-receiver.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

const T = "ward-tenant";

describe("the backend rule: a synchronous may-subscribe hook", () => {
  let rx: HttpReceiver;
  let dir: string;
  let closed: TestServer;
  let open: TestServer;

  beforeAll(async () => {
    rx = startReceiver();
    rx.respond = (r) => {
      if (r.json.ch === "ward:slow") return new Promise<Response>(() => {});
      if (r.json.ch === "ward:broken") return new Response("oops", { status: 500 });
      return Response.json({ allow: r.json.ch === "ward:ok" });
    };
    dir = mkdtempSync(join(tmpdir(), "sb-authz-"));
    const path = join(dir, "config.json");
    writeFileSync(path, JSON.stringify({ namespaces: { ward: { subscribe: ["backend"], publish: ["tenant"], history: false } } }));
    const env = (fail: string) => ({ SWITCHBOARD_CONFIG: path, WEBHOOK_AUTHORIZE_URL: rx.url + "/authorize", WEBHOOK_AUTHORIZE_TIMEOUT_MS: "300", WEBHOOK_AUTHORIZE_FAIL: fail });
    [closed, open] = await Promise.all([startServer({ env: env("closed") }), startServer({ env: env("open") })]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([closed?.stop(), open?.stop()]);
    rx?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const client = async (s: TestServer) => (await TestClient.auth(s.wsUrl, await token({ sub: "nurse-1", tenant: T, roles: ["nurse"] }))).client;

  test("a hook that says yes lets the user in; one that says no is enforced", async () => {
    const c = await client(closed);
    expect(await c.request({ t: "sub", ch: "ward:ok" })).toMatchObject({ t: "ok" });
    expect(await c.request({ t: "sub", ch: "ward:no" })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
    const asked = rx.received.find((r) => r.json.ch === "ward:no" && r.json.action === "subscribe");
    expect(asked!.json).toEqual({ action: "subscribe", tenant: T, user: "nurse-1", roles: ["nurse"], ch: "ward:no" });
    c.close();
  });

  test("a hook that times out or fails follows the configured rule: closed denies, open allows", async () => {
    const a = await client(closed);
    const b = await client(open);
    expect(await a.request({ t: "sub", ch: "ward:slow" }, 5000)).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
    expect(await b.request({ t: "sub", ch: "ward:slow" }, 5000)).toMatchObject({ t: "ok" });
    expect(await a.request({ t: "sub", ch: "ward:broken" })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
    expect(await b.request({ t: "sub", ch: "ward:broken" })).toMatchObject({ t: "ok" });
    // A definite no is a no even when failing open.
    expect(await b.request({ t: "sub", ch: "ward:no" })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
    a.close();
    b.close();
  }, 30_000);

  test("the backend rule without its hook URL is refused at start-up, naming the key", async () => {
    const path = join(dir, "bad.json");
    writeFileSync(path, JSON.stringify({ namespaces: { ward: { subscribe: ["backend"], publish: ["backend"], history: false }, desk: { subscribe: ["tenant"], publish: ["tenant"], publishUrl: "http://backend/x" } } }));
    const err = String(await startServer({ env: { SWITCHBOARD_CONFIG: path } }).catch((e: Error) => e));
    expect(err).toContain("namespaces.ward: the backend rule needs WEBHOOK_AUTHORIZE_URL");
    expect(err).toContain("namespaces.ward.publish: the backend rule needs WEBHOOK_PUBLISH_URL or the namespace's publishUrl");
    expect(err).toContain('namespaces.desk.publishUrl: only the backend publish rule asks it; add "backend" to publish or drop publishUrl');
  });
});

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { countReached, isMsg, nodeEnv, policyFile, startBackend, startNodes, type Backend, type BackendKind } from "./nodes.ts";

for (const kind of (process.env.SB_KINDS ?? "standalone,cluster").split(",") as BackendKind[]) {
  describe(`a node killed and restarted, Redis ${kind}`, () => {
    let backend: Backend;
    let nodes: TestServer[];
    const policy = policyFile();
    const clients: TestClient[] = [];

    beforeAll(async () => {
      backend = await startBackend(kind);
      nodes = await startNodes(3, nodeEnv(backend, policy.path));
    }, 30_000);
    afterAll(async () => {
      for (const c of clients) c.close();
      await Promise.all((nodes ?? []).map((n) => n.stop()));
      await backend?.stop();
      policy.cleanup();
    });

    async function connect(node: TestServer, sub: string): Promise<TestClient> {
      const { client } = await TestClient.auth(node.wsUrl, await token({ sub, tenant: "t1", rooms: ["ward"] }));
      clients.push(client);
      return client;
    }

    test("its clients reconnect and recover every missed message; its presence vanishes with one leave", async () => {
      const watcher = await connect(nodes[0]!, "watcher");
      await watcher.request({ t: "sub", ch: "room:ward", presence: true });
      const publisher = await connect(nodes[1]!, "pub");
      const victim = await connect(nodes[2]!, "victim");
      const hello = victim.frames.find((f) => f.t === "hello")!;
      expect((await victim.request({ t: "sub", ch: "room:ward", presence: true })).t).toBe("ok");
      expect((await victim.request({ t: "sub", ch: "user:victim" })).t).toBe("ok");
      const joined = await watcher.next((f) => f.t === "join" && f.user === "victim");
      for (let i = 0; i < 20; i++) await publisher.request({ t: "pub", ch: "room:ward", ev: "n", data: i });
      await nodes[0]!.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "user:victim", ev: "p", data: 0 } });
      await countReached(victim, isMsg("room:ward"), 20);
      const lastRoom = victim.frames.filter(isMsg("room:ward")).at(-1)!.off as string;
      const lastUser = (await victim.next(isMsg("user:victim"))).off as string;

      const killedAt = Date.now();
      expect(await nodes[2]!.stop("SIGKILL")).not.toBe(0);
      const acked: string[] = [];
      for (let i = 20; i < 50; i++) acked.push((await publisher.request({ t: "pub", ch: "room:ward", ev: "n", data: i })).off);
      const r = await nodes[0]!.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "user:victim", ev: "p", data: 1 } });
      const userOff = ((await r.json()) as { off: string }).off;

      // presence TTL 3 s: heartbeats every 1 s, leases of 2 s, sweeps every 1 s
      const leave = await watcher.next((f) => f.t === "leave" && f.conn === joined.conn, 6000);
      expect(leave).toMatchObject({ ch: "room:ward", user: "victim" });
      expect(Date.now() - killedAt).toBeLessThan(4500);
      const pres = (await (await nodes[1]!.api("/v1/channels/room:ward/presence?tenant=t1")).json()) as { members: { user: string }[] };
      expect(pres.members.map((m) => m.user)).toEqual(["watcher"]);

      nodes[2] = await startServer({ env: nodeEnv(backend, policy.path), port: nodes[2]!.port });
      const back = await connect(nodes[2]!, "victim");
      expect(back.frames.find((f) => f.t === "hello")!.conn).not.toBe(hello.conn);
      const ok = await back.request({ t: "sub", ch: "room:ward", since: lastRoom });
      expect(ok).toMatchObject({ t: "ok", off: acked.at(-1), recovered: true, missed: 30 });
      expect(back.frames.filter(isMsg("room:ward")).map((f) => f.off)).toEqual(acked);
      const okUser = await back.request({ t: "sub", ch: "user:victim", since: lastUser });
      expect(okUser).toMatchObject({ t: "ok", off: userOff, recovered: true, missed: 1 });
      // later deliveries on the restarted node work, and the old connection left exactly once
      const live = await publisher.request({ t: "pub", ch: "room:ward", ev: "n", data: 50 });
      expect((await back.next((f) => isMsg("room:ward")(f) && f.off === live.off)).data).toBe(50);
      expect(watcher.count((f) => f.t === "leave" && f.conn === joined.conn)).toBe(1);
    }, 30_000);
  });
}

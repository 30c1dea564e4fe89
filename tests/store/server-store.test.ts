import { LATEST_SCHEMA } from "../../src/store/migrations.ts";
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";
import { RUNTIMES, startServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";

// Real PostgreSQL and Redis processes are started, stopped and restarted here.
setDefaultTimeout(60_000);

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

// One suite, both runtimes: the Node build reaches PostgreSQL through node-postgres, the Bun one through Bun.SQL.
for (const runtime of RUNTIMES) describe(`on ${runtime}`, () => {
  test("a node on DATABASE_URL reports the store; a PostgreSQL outage turns /health/ready 503 with the reason, then recovers", async () => {
    const url = await pg.createDatabase(`ready_probe_${runtime}`);
    const server = await startServer({ runtime, env: { DATABASE_URL: url, DATABASE_TIMEOUT_MS: "500" } });
    try {
      expect(server.logs.find((l) => l.msg === "listening")).toMatchObject({ store: "postgres" });
      expect((await fetch(server.url + "/health/ready")).status).toBe(200);
      const health = await (await fetch(server.url + "/health")).json();
      expect(health.components.store).toMatchObject({ status: "ok", kind: "postgres", schema: LATEST_SCHEMA });
      await pg.halt();
      const down = await until(async () => {
        const r = await fetch(server.url + "/health/ready");
        return r.status === 503 ? ((await r.json()) as { reason: string }) : undefined;
      }, "readiness 503");
      expect(down.reason).toContain("record store unavailable");
      expect(await (await fetch(server.url + "/metrics")).text()).toContain("switchboard_store_up 0");
      await pg.restart();
      await until(async () => ((await fetch(server.url + "/health/ready")).status === 200 ? true : undefined), "readiness 200 again");
      expect(await (await fetch(server.url + "/metrics")).text()).toContain("switchboard_store_up 1");
    } finally {
      await server.stop();
    }
  });

  test("a node refuses to start on a schema newer than it knows, with one clear line", async () => {
    const url = await pg.createDatabase(`future_schema_${runtime}`);
    const first = await startServer({ runtime, env: { DATABASE_URL: url } });
    await first.stop();
    const sql = new Bun.SQL(url);
    await sql.unsafe("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)");
    await sql.close();
    const err = await startServer({ runtime, env: { DATABASE_URL: url } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`switchboard: database schema is version 999, this node knows up to ${LATEST_SCHEMA}: upgrade this node`);
  });

  test("the embedded node keeps its records in DATA_DIR without any DATABASE_URL", async () => {
    const server = await startServer({ runtime });
    try {
      expect(server.logs.find((l) => l.msg === "listening")).toMatchObject({ store: "sqlite" });
      const health = await (await fetch(server.url + "/health")).json();
      expect(health.components.store).toMatchObject({ status: "ok", kind: "sqlite" });
    } finally {
      await server.stop();
    }
  });
});

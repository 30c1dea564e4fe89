import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT, yamlDocs } from "./support.ts";

const compose = () => yamlDocs("deploy/compose.yaml")[0];
const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)![1]);

test("compose: three nodes gated on healthy Redis and PostgreSQL, the balancer gated on healthy nodes", () => {
  const s = compose().services;
  for (const n of ["node1", "node2", "node3"]) {
    expect(s[n].build).toEqual({ context: "..", dockerfile: "deploy/Dockerfile" });
    expect(s[n].depends_on).toEqual({ redis: { condition: "service_healthy" }, postgres: { condition: "service_healthy" } });
    // docker compose stop: SIGTERM, then SIGKILL after the grace period; the drain must fit.
    expect(seconds(s[n].stop_grace_period) * 1000).toBeGreaterThan(Number(s[n].environment.DRAIN_DEADLINE_MS));
    expect(s[n].ulimits.nofile.soft).toBeGreaterThanOrEqual(65536);
  }
  expect(s.lb.depends_on).toEqual({ node1: { condition: "service_healthy" }, node2: { condition: "service_healthy" }, node3: { condition: "service_healthy" } });
  for (const dep of ["redis", "postgres"]) expect(s[dep].healthcheck.test.length).toBeGreaterThan(1);
  const cfg = s.lb.volumes[0].split(":")[0];
  expect(existsSync(join(ROOT, "deploy", cfg))).toBe(true);
});

test("compose: Redis keeps an append-only file fsynced every second", () => {
  const cmd: string[] = compose().services.redis.command;
  expect(cmd[cmd.indexOf("--appendonly") + 1]).toBe("yes");
  expect(cmd[cmd.indexOf("--appendfsync") + 1]).toBe("everysec");
  // Evicting bus streams or presence keys would lose messages silently.
  expect(cmd[cmd.indexOf("--maxmemory-policy") + 1]).toBe("noeviction");
});

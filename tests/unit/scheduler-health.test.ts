import { expect, test } from "bun:test";
import type { Engine } from "../../src/engine/engine.ts";
import type { Hub } from "../../src/hub/hub.ts";
import { Scheduler } from "../../src/jobs/scheduler.ts";
import { HealthCheck } from "../../src/observability/health.ts";
import type { LoopLagMonitor } from "../../src/observability/loop-lag.ts";
import { capturedLogger } from "../helpers/captured-log.ts";

test("a failed job run is recorded and turns /health's scheduler (and the node) degraded; the next good run clears it", async () => {
  const log = capturedLogger("error");
  const scheduler = new Scheduler(log.logger);
  let fail = true;
  // Paused by its pattern (a date far ahead): only trigger() runs it.
  scheduler.add("history-trim", "0 0 1 1 *", async () => {
    if (fail) throw new Error("disk I/O error");
    return 3;
  });
  const hub = { draining: false, engineUp: true, conns: new Set(), deps: { config: { nodeId: "n1" } } } as unknown as Hub;
  const engine = { kind: "local", health: () => ({ up: true, detail: "ok", channels: 0 }) } as unknown as Engine;
  const lag = { lastMs: 0, maxMs: 0 } as unknown as LoopLagMonitor;
  const health = new HealthCheck(hub, engine, scheduler, lag);
  expect(health.report().components.scheduler!.status).toBe("ok");

  await scheduler.trigger("history-trim");
  const failed = health.report();
  expect(failed.components.scheduler).toMatchObject({ status: "degraded", jobs: [{ name: "history-trim", runs: 1, lastError: "disk I/O error" }] });
  expect(failed.status).toBe("degraded");
  expect(log.lines.some((l) => l.includes('"msg":"job failed"') && l.includes("disk I/O error"))).toBe(true);

  fail = false;
  await scheduler.trigger("history-trim");
  expect(health.report()).toMatchObject({ status: "ok", components: { scheduler: { status: "ok", jobs: [{ runs: 2, lastError: null }] } } });
  scheduler.stop();
});

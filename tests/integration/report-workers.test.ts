import { afterEach, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config/load.ts";
import { cpuCores, defaultReportWorkers, reportWorkersWarning, supervisedReportWorkers } from "../../src/reports/report-workers.ts";
import { RUNTIMES, startServer, TEST_SECRET, type TestServer } from "../helpers/server.ts";

/** The cores the server will see: same machine, same cgroup as this test process. */
const cores = cpuCores();

let s: TestServer | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

const warnings = (srv: TestServer) => srv.logs.filter((l) => l.level === "warn" && String(l.msg).startsWith("REPORT_WORKERS="));

test.each([...RUNTIMES])("a server (%s) started with REPORT_WORKERS above the core count warns once at start-up, naming the count and the cores", async (runtime) => {
  s = await startServer({ runtime, env: { REPORT_WORKERS: String(cores + 1) } });
  const w = warnings(s);
  expect(w).toHaveLength(1);
  expect(w[0]!.msg).toContain(`REPORT_WORKERS=${cores + 1} is above the ${cores} CPU core`);
  expect(w[0]!.msg).toContain(`set REPORT_WORKERS to ${cores} or less`);
  expect(w[0]!.reportWorkers).toBe(cores + 1);
  // Still a working server: the setting is honoured, only flagged.
  expect((await fetch(s.url + "/health/ready")).status).toBe(200);
}, 120_000);

test("a server with the default, or with REPORT_WORKERS equal to the core count, does not warn", async () => {
  s = await startServer();
  expect(s.logs.some((l) => l.msg === "listening")).toBe(true);
  expect(warnings(s)).toEqual([]);
  await s.stop();
  s = await startServer({ env: { REPORT_WORKERS: String(cores) } });
  expect(warnings(s)).toEqual([]);
});

test("REPORT_WORKERS=auto (the default) is 2, or 1 on a single core; bad values name the setting", () => {
  expect([1, 2, 3, 64].map((c) => defaultReportWorkers(c))).toEqual([1, 2, 2, 2]);
  const env = { JWT_SECRET: TEST_SECRET, DATA_DIR: "/tmp/sb-unused" };
  expect(loadConfig(env).reports.workers).toBe(Math.min(2, cores));
  expect(loadConfig({ ...env, REPORT_WORKERS: "auto" }).reports.workers).toBe(Math.min(2, cores));
  expect(loadConfig({ ...env, REPORT_WORKERS: "5" }).reports.workers).toBe(5);
  for (const [value, why] of [["0", "must be ≥ 1"], ["65", "must be ≤ 64"], ["two", "must be auto or an integer 1–64"]] as const) {
    let problems: string[] = [];
    try {
      loadConfig({ ...env, REPORT_WORKERS: value });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([`REPORT_WORKERS: ${why} (got ${JSON.stringify(value)})`]);
  }
  expect(reportWorkersWarning(2, 2)).toBeUndefined();
  expect(reportWorkersWarning(8, 2)).toContain("REPORT_WORKERS=8 is above the 2 CPU cores");
  expect(reportWorkersWarning(2, 1)).toContain("above the 1 CPU core this process");
});

test("WORKERS=N: with REPORT_WORKERS unset each process gets its share of the cores; a node whose render threads outnumber the cores is warned about", () => {
  // auto: the cores shared out, at least 1 and at most 2 per process
  expect(supervisedReportWorkers(undefined, 2, 8)).toEqual({ perProcess: "2", warning: undefined });
  expect(supervisedReportWorkers("auto", 4, 8)).toEqual({ perProcess: "2", warning: undefined });
  expect(supervisedReportWorkers(undefined, 2, 2)).toEqual({ perProcess: "1", warning: undefined });
  const starved = supervisedReportWorkers(undefined, 4, 2);
  expect(starved.perProcess).toBe("1");
  expect(starved.warning).toContain("WORKERS=4 processes × REPORT_WORKERS=1 = 4 render threads on 2 CPU cores");
  // set by the operator: kept, and warned about when the node's total is above the cores
  expect(supervisedReportWorkers("2", 2, 2)).toEqual({ perProcess: undefined, warning: expect.stringContaining("= 4 render threads on 2 CPU cores") });
  expect(supervisedReportWorkers("1", 2, 2)).toEqual({ perProcess: undefined, warning: undefined });
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";

/** A policy with the care-team channels the reminders use. */
export const JOB_NAMESPACES = {
  room: { subscribe: ["tenant"], publish: ["tenant"], history: { size: 100, ttlSec: 3600 } },
  student: { subscribe: ["tenant"], publish: ["server"], history: { size: 100, ttlSec: 3600 } },
  user: { subscribe: ["self"], publish: ["server"], history: { size: 100, ttlSec: 3600 } },
};

export function configFile(extra: Record<string, unknown> = {}): { path: string; dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "sb-jobs-"));
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify({ namespaces: JOB_NAMESPACES, ...extra }));
  return { path, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function createJob(s: TestServer, body: Record<string, unknown>): Promise<{ id: string; nextRun: string | null; created: boolean }> {
  const res = await s.api("/v1/jobs", { method: "POST", json: body });
  const json = await res.json();
  if (res.status !== 201 && res.status !== 200) throw new Error(`job create answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

export async function getJob(s: TestServer, tenant: string, id: string): Promise<any> {
  return (await s.api(`/v1/jobs/${id}?tenant=${tenant}`)).json();
}

/** Waits until the job satisfies `pred` (the queue's state changes announce nothing to a client). */
export function untilJob(s: TestServer, tenant: string, id: string, pred: (j: any) => boolean, what: string, timeoutMs = 20_000): Promise<any> {
  return until(async () => {
    const j = await getJob(s, tenant, id);
    return pred(j) ? j : undefined;
  }, what, timeoutMs);
}

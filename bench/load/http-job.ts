/** The `http` load job: closed-loop keep-alive POST /v1/publish clients. */
import { nowMs, sleepUntil } from "../lib/clock.ts";
import { encodeHistogram, newHistogram, recordMicros } from "../lib/latency.ts";
import type { Emit, Go, HttpJob } from "./jobs.ts";

/** Closed-loop HTTP publishers (keep-alive fetch); latency is request service time. */
export async function httpJob(job: HttpJob, emit: Emit, next: () => Promise<Record<string, any>>): Promise<void> {
  emit({ ev: "ready" });
  const go = (await next()) as Go;
  const h = newHistogram();
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (job.apiKey) headers.authorization = `Bearer ${job.apiKey}`;
  await sleepUntil(go.startAt);
  const lanes = Array.from({ length: job.concurrency }, async (_, lane) => {
    for (let q = 0; nowMs() < go.measureTo; q++) {
      const s = nowMs();
      const body = JSON.stringify({ ...(job.tenant ? { tenant: job.tenant } : {}), ch: job.ch, ev: "m", data: { bt: Math.round(s * 1000), s: (job.base ?? 0) + lane, q } });
      let good = false;
      try {
        const res = await fetch(job.url, { method: "POST", headers, body });
        const text = await res.text();
        good = res.ok;
        if (!good) firstError ??= `HTTP ${res.status} ${text.slice(0, 200)}`;
      } catch (e) {
        firstError ??= (e as Error).message;
      }
      const e = nowMs();
      if (s >= go.measureFrom && e <= go.measureTo) {
        if (good) {
          ok++;
          recordMicros(h, (e - s) * 1000);
        } else failed++;
      }
    }
  });
  await Promise.all(lanes);
  emit({ ev: "result", ok, failed, firstError, seconds: (go.measureTo - go.measureFrom) / 1000, hist: encodeHistogram(h) });
  await next().catch(() => undefined);
}

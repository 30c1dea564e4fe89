import type { NotificationInput } from "../store/ports.ts";
import type { EndpointBreakers } from "../features/webhooks/endpoint-breakers.ts";
import type { JobAction, ReportJobAction } from "./job-action.ts";

/** What running a job may touch: the hub's publish, the inbox, HTTP, and the built-in jobs by name. */
export interface JobEffects {
  publish(tenant: string, ch: string, ev: string, data: string): Promise<unknown>;
  notify(tenant: string, users: readonly string[], n: NotificationInput): Promise<unknown>;
  builtins: ReadonlyMap<string, () => Promise<unknown>>;
  /** Adds headers to a job's webhook call (the webhooks feature signs it). */
  signWebhook?(body: string, headers: Record<string, string>): void;
  /** Guards webhook calls with a circuit breaker per endpoint. */
  breakers?: EndpointBreakers;
  /** Renders and delivers a `report` action (src/jobs/report-job.ts). */
  report?(a: ReportJobAction, ctx: JobContext): Promise<void>;
}

export interface JobContext {
  id: string;
  tenant: string;
  name: string | null;
  dueMs: number;
  attempt: number;
  signal: AbortSignal;
}

/** Runs one job action; rejects with an Error whose message becomes the job's lastError. */
export async function executeAction(fx: JobEffects, a: JobAction, ctx: JobContext): Promise<void> {
  if (a.builtin !== undefined) {
    const run = fx.builtins.get(a.builtin);
    if (!run) throw new Error(`no built-in job named ${a.builtin}`);
    await run();
    return;
  }
  if (a.report !== undefined) {
    if (!fx.report) throw new Error("reports are not available on this node");
    await fx.report(a.report, ctx);
    return;
  }
  if (a.webhook !== undefined) {
    const body = JSON.stringify(a.webhook.body ?? { job: ctx.id, name: ctx.name, tenant: ctx.tenant, due: new Date(ctx.dueMs).toISOString(), attempt: ctx.attempt });
    const headers: Record<string, string> = { "content-type": "application/json", "x-switchboard-job": ctx.id, "x-switchboard-attempt": String(ctx.attempt) };
    fx.signWebhook?.(body, headers);
    const url = a.webhook.url;
    const breaker = fx.breakers?.for(url);
    if (breaker && !breaker.allow()) throw new Error(`circuit open for ${new URL(url).origin} (retry in ${breaker.retryInMs()} ms)`);
    let res: Response;
    try {
      res = await fetch(url, { method: "POST", body, headers, signal: ctx.signal, redirect: "manual" });
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      fx.breakers?.failed(url);
      throw err;
    }
    if (res.status < 200 || res.status > 299) {
      fx.breakers?.failed(url);
      throw new Error(`webhook answered HTTP ${res.status}`);
    }
    breaker?.success();
    return;
  }
  if (a.publish !== undefined) {
    const chs = typeof a.publish.ch === "string" ? [a.publish.ch] : a.publish.ch;
    const data = JSON.stringify(a.publish.data ?? null);
    await Promise.all(chs.map((ch) => fx.publish(ctx.tenant, ch, a.publish!.ev, data)));
  }
  if (a.notify !== undefined) {
    const n = a.notify;
    await fx.notify(ctx.tenant, n.users, {
      type: n.type,
      title: n.title,
      body: n.body ?? null,
      data: n.data === undefined || n.data === null ? null : JSON.stringify(n.data),
      priority: n.priority ?? "normal",
    });
  }
}

import type { Config } from "../config/load.ts";
import type { Engine } from "../engine/engine.ts";
import type { callsFeature } from "../features/calls/calls-feature.ts";
import type { notificationsFeature } from "../features/notifications/notifications-feature.ts";
import { backendRule } from "../features/webhooks/authorize-hook.ts";
import { DeliveryWorker } from "../features/webhooks/delivery-worker.ts";
import { EndpointBreakers } from "../features/webhooks/endpoint-breakers.ts";
import { signBytesHeaders, signHeaders } from "../features/webhooks/signature.ts";
import { WebhookService } from "../features/webhooks/webhook-service.ts";
import { tapPublications, webhooksFeature } from "../features/webhooks/webhooks-feature.ts";
import type { Hub } from "../hub/hub.ts";
import type { Clock } from "../hub/ports.ts";
import type { ServerApi } from "../hub/server-api.ts";
import { createJobs } from "../jobs/jobs.ts";
import { reportDelivery } from "../jobs/report-job.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { ReportRenderer } from "../reports/report-renderer.ts";
import type { ConversationReader } from "../reports/report-sources.ts";
import type { Store } from "../store/ports.ts";
import { jobRoutes } from "../transport/http/job-routes.ts";
import { webhookRoutes } from "../transport/http/webhook-routes.ts";
import { fatal } from "./fatal.ts";

export interface BackgroundDeps {
  config: Config;
  hub: Hub;
  engine: Engine;
  store: Store;
  api: ServerApi;
  inbox: ReturnType<typeof notificationsFeature>;
  calls: ReturnType<typeof callsFeature>;
  reports: ReportRenderer;
  chatNs: string | undefined;
  conversations: ConversationReader | undefined;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
}

/**
 * The node's background work: webhook endpoints and their delivery worker, the
 * backend hooks, and the durable job queue with its built-in jobs (history trim,
 * retention) and the report action. Returns what the HTTP app and the drain need.
 */
export async function startBackground(d: BackgroundDeps) {
  const { config, hub, engine, store, api, inbox, calls, reports, chatNs, conversations, clock, metrics, logger } = d;
  const routes: ReturnType<typeof jobRoutes>[] = [];
  const breakers = new EndpointBreakers(config.jobs.breaker.failures, config.jobs.breaker.cooldownMs, () => clock.now(), metrics);
  const webhooks = new WebhookService(store.webhooks, (msg) => engine.control(msg), () => clock.now(), logger);
  const deliveries = new DeliveryWorker(store.webhooks, (t, id) => webhooks.routing.endpoint(t, id), breakers, {
    owner: `${config.nodeId}.${process.pid}`,
    pollMs: config.webhooks.pollMs,
    leaseMs: config.webhooks.timeoutMs * 2 + 1000,
    timeoutMs: config.webhooks.timeoutMs,
    attempts: config.webhooks.attempts,
    backoffMs: config.webhooks.backoffMs,
    concurrency: 16,
    now: () => clock.now(),
    logger,
  });
  try {
    await webhooks.start(10_000, config.webhooks.static);
  } catch (err) {
    fatal(`cannot load the webhook endpoints: ${(err as Error).message}`);
  }
  webhooks.appended = () => deliveries.wake();
  const { authorize, publish: publishHook } = config.webhooks;
  const backend = backendRule({
    subscribe: authorize && { ...authorize, secret: config.jobs.webhookSecret, logger },
    publish: { ...publishHook, secret: config.jobs.webhookSecret, logger },
  });
  hub.register(webhooksFeature(webhooks, logger, { connId: (c) => hub.connId(c), node: config.nodeId }, backend));
  tapPublications(engine, webhooks, logger);
  routes.push(webhookRoutes(webhooks, store.webhooks, () => deliveries.wake(), logger));
  deliveries.start();
  const jobs = createJobs({
    config,
    store: store.jobs,
    effects: {
      publish: (tenant, ch, ev, data) => api.publish(tenant, ch, ev, data),
      notify: (tenant, users, n) => inbox.service.post(tenant, users, n),
      // Once per cluster: the history-trim job (which also applies the call records' retention) and the retention jobs are static jobs in the shared queue.
      builtins: new Map([
        ["history-trim", async () => (await engine.trim()) + (await store.trim(Date.now())) + (await calls.service.deleteExpired())],
        ["webhook-retention", () => webhooks.purge(config.webhooks.retentionSec)],
        ["retention", async () => (config.jobs.retentionMs > 0 ? await store.jobs.purgeFinishedJobs(clock.now() - config.jobs.retentionMs) : 0) + (await store.reportFiles.deleteExpiredReportFiles(clock.now()))],
      ]),
      report: reportDelivery({
        renderer: reports,
        history: api,
        conversations,
        chatRetention: chatNs ? config.namespaces[chatNs]!.retention : undefined,
        files: store.reportFiles,
        notify: (tenant, users, n) => inbox.service.post(tenant, users, n),
        signBytes: config.jobs.webhookSecret ? (body, headers) => signBytesHeaders(config.jobs.webhookSecret!, body, headers) : undefined,
        breakers,
        linkTtlSec: config.reports.linkTtlSec,
        linkBaseUrl: config.reports.linkBaseUrl,
        now: () => clock.now(),
        audit: (fields) => logger.audit("job_report", fields),
      }),
      breakers,
      signWebhook: config.jobs.webhookSecret ? (body, headers) => signHeaders(config.jobs.webhookSecret!, body, headers) : undefined,
    },
    checkChannel: (ch) => void hub.deps.policy.resolve(ch),
    logger,
    metrics,
    now: () => clock.now(),
    onDead: (job, error) => {
      void webhooks
        .emit(job.tenant, "job.failed", { job: job.id, name: job.name, kind: job.kind, attempts: job.attempts, error })
        .catch((err) => logger.warn("webhook job.failed event not stored", { err, job: job.id }));
    },
  });
  config.jobs.static.unshift(
    { tenant: "", key: "builtin:history-trim", name: "history-trim", cron: config.historyTrimCron, action: { builtin: "history-trim" }, missed: "run" },
    { tenant: "", key: "builtin:retention", name: "retention", everyMs: config.jobs.sweepMs, action: { builtin: "retention" }, missed: "run" },
  );
  if (config.webhooks.retentionSec > 0) {
    config.jobs.static.unshift({ tenant: "", key: "builtin:webhook-retention", name: "webhook-retention", cron: config.historyTrimCron, action: { builtin: "webhook-retention" }, missed: "run" });
  }
  routes.push(jobRoutes(jobs.service, logger));
  try {
    await jobs.start();
  } catch (err) {
    fatal(`cannot start the job queue: ${(err as Error).message}`);
  }
  return { breakers, webhooks, deliveries, jobs, routes };
}

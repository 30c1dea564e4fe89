import type { Logger } from "../../observability/logger.ts";
import type { DeliveryClaim, DeliveryOutcome, WebhookEndpoint, WebhookOutbox } from "../../store/ports.ts";
import { retryDelayMs } from "../../jobs/backoff.ts";
import type { EndpointBreakers } from "./endpoint-breakers.ts";
import { signHeaders } from "./signature.ts";

export interface DeliveryWorkerOptions {
  owner: string;
  pollMs: number;
  leaseMs: number;
  timeoutMs: number;
  attempts: number;
  backoffMs: number;
  concurrency: number;
  now: () => number;
  logger: Logger;
}

/**
 * Sends the outbox: claims due deliveries under a lease, POSTs each signed
 * with its endpoint's secret, and records the outcome (retry with backoff,
 * dead after the last attempt). Per endpoint, a token bucket limits the rate
 * and the circuit breaker holds deliveries back while the endpoint is down;
 * both defer without spending an attempt.
 */
export class DeliveryWorker {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private wakePending = false;
  private inflight = 0;
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();
  delivered = 0;

  constructor(
    private readonly outbox: WebhookOutbox,
    private readonly endpoint: (tenant: string, id: string) => WebhookEndpoint | undefined,
    private readonly breakers: EndpointBreakers,
    private readonly o: DeliveryWorkerOptions,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  wake(): void {
    this.wakePending = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.wakePending = false;
      try {
        const claims = await this.outbox.claimDeliveries(this.o.owner, this.o.concurrency - this.inflight, this.o.now(), this.o.leaseMs);
        for (const c of claims) {
          this.inflight++;
          void this.deliver(c)
            .catch((err) => this.o.logger.error("webhook bookkeeping failed", { err, delivery: c.delivery.id }))
            .finally(() => {
              this.inflight--;
              this.wake();
            });
        }
      } catch (err) {
        this.o.logger.warn("webhook outbox poll failed", { err });
      }
      if (this.stopped) break;
      if (this.wakePending) continue;
      const woken = Promise.withResolvers<void>();
      this.wakeUp = woken.resolve;
      const timer = setTimeout(woken.resolve, this.o.pollMs);
      await woken.promise;
      clearTimeout(timer);
      this.wakeUp = undefined;
    }
  }

  /** Takes a token of the endpoint's bucket; answers 0 or the ms until one is free. */
  private take(e: WebhookEndpoint): number {
    if (e.ratePerSec <= 0) return 0;
    const k = e.tenant + "/" + e.id;
    const now = this.o.now();
    const b = this.buckets.get(k) ?? { tokens: e.ratePerSec, atMs: now };
    b.tokens = Math.min(e.ratePerSec, b.tokens + ((now - b.atMs) * e.ratePerSec) / 1000);
    b.atMs = now;
    this.buckets.set(k, b);
    if (b.tokens >= 1) {
      b.tokens--;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / e.ratePerSec);
  }

  private async deliver({ delivery: d, lease }: DeliveryClaim): Promise<void> {
    const e = this.endpoint(d.tenant, d.endpoint);
    const now = this.o.now();
    let outcome: DeliveryOutcome;
    if (!e) {
      outcome = { type: "dead", error: "the webhook endpoint was removed", status: null };
    } else {
      const wait = this.take(e);
      const breaker = this.breakers.for(e.url);
      if (wait > 0) outcome = { type: "defer", nextMs: now + wait };
      else if (!breaker.allow()) outcome = { type: "defer", nextMs: now + Math.max(50, breaker.retryInMs()) };
      else outcome = await this.send(e, d.id, d.event, d.body, d.attempts);
    }
    const held = await this.outbox.finishDelivery(d.id, lease, outcome, this.o.now());
    if (!held) this.o.logger.warn("webhook delivery lease lost; another node sends it", { delivery: d.id });
    else if (outcome.type === "delivered") this.delivered++;
    else if (outcome.type === "dead") this.o.logger.error("webhook delivery dead-lettered", { delivery: d.id, endpoint: d.endpoint, tenant: d.tenant, error: outcome.error });
  }

  private async send(e: WebhookEndpoint, id: string, event: string, body: string, attempt: number): Promise<DeliveryOutcome> {
    const headers: Record<string, string> = { "content-type": "application/json", "x-switchboard-delivery": id, "x-switchboard-event": event, "x-switchboard-attempt": String(attempt) };
    signHeaders(e.secret, body, headers, this.o.now());
    let status: number | null = null;
    let error: string;
    try {
      const res = await fetch(e.url, { method: "POST", body, headers, redirect: "manual", signal: AbortSignal.timeout(this.o.timeoutMs) });
      await res.arrayBuffer().catch(() => undefined);
      status = res.status;
      if (status >= 200 && status <= 299) {
        this.breakers.for(e.url).success();
        return { type: "delivered", status };
      }
      error = `endpoint answered HTTP ${status}`;
    } catch (err) {
      error = (err instanceof Error ? err.message : String(err)).slice(0, 300);
    }
    this.breakers.failed(e.url);
    if (attempt >= this.o.attempts) return { type: "dead", error, status };
    return { type: "retry", error, status, nextMs: this.o.now() + retryDelayMs(this.o.backoffMs, attempt) };
  }
}

import { randomBytes } from "node:crypto";
import { featureControl } from "../../hub/features.ts";
import type { ControlMessage } from "../../engine/engine.ts";
import type { Logger } from "../../observability/logger.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { StaticWebhook } from "../../config/webhooks.ts";
import type { WebhookEndpoint, WebhookOutbox } from "../../store/ports.ts";
import { WebhookRouting, type WebhookEvent } from "./webhook-events.ts";

export interface EndpointInput {
  id?: string;
  url: string;
  secret?: string;
  events: WebhookEvent[];
  namespaces?: string[];
  ratePerSec?: number;
}

const PURGE_BATCH = 5000;
let seq = 0;
const deliveryId = (nowMs: number) => "dlv_" + nowMs.toString(36) + (++seq % 1_679_616).toString(36).padStart(4, "0") + randomBytes(4).toString("hex");

/**
 * Webhook endpoints per tenant and the events they get: an event appends one
 * delivery per interested endpoint to the outbox (nothing else on the path
 * that raised it); the delivery worker sends them.
 */
export class WebhookService {
  readonly routing = new WebhookRouting();
  private timer: Timer | undefined;
  /** Called after deliveries were appended (the local worker looks at once). */
  appended: () => void = () => {};

  constructor(
    private readonly outbox: WebhookOutbox,
    private readonly control: (msg: ControlMessage) => Promise<void>,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {}

  /**
   * Upserts the config file's endpoints (every node does, with the same
   * values), then loads all endpoints, and again every `reloadMs` (a missed
   * change message heals).
   */
  async start(reloadMs: number, statics: readonly StaticWebhook[] = []): Promise<void> {
    for (const w of statics) await this.outbox.putEndpoint({ ...w, createdMs: this.now() });
    await this.reload();
    this.timer = setInterval(() => void this.reload().catch((err) => this.logger.warn("webhook endpoints reload failed", { err })), reloadMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async reload(): Promise<void> {
    this.routing.replace(await this.outbox.endpoints());
  }

  async put(tenant: string, input: EndpointInput): Promise<WebhookEndpoint> {
    if (input.events.includes("publication") && !input.namespaces?.length) throw new SwitchboardError("VALIDATION_ERROR", "namespaces: publication webhooks need the namespaces to send");
    const e: WebhookEndpoint = {
      tenant,
      id: input.id ?? "wh_" + randomBytes(8).toString("hex"),
      url: input.url,
      secret: input.secret ?? "whsec_" + randomBytes(24).toString("base64url"),
      events: [...new Set(input.events)],
      namespaces: [...new Set(input.namespaces ?? [])],
      ratePerSec: input.ratePerSec ?? 50,
      createdMs: this.now(),
    };
    await this.outbox.putEndpoint(e);
    await this.changed();
    return e;
  }

  list(tenant: string): Promise<WebhookEndpoint[]> {
    return this.outbox.endpoints(tenant);
  }

  async remove(tenant: string, id: string): Promise<void> {
    if (!(await this.outbox.removeEndpoint(tenant, id))) throw new SwitchboardError("RESOURCE_NOT_FOUND", "no such webhook");
    await this.changed();
  }

  private async changed(): Promise<void> {
    await this.reload();
    await this.control(featureControl("webhooks", { op: "reload" })).catch((err) => this.logger.warn("webhook change broadcast failed; other nodes reload on their timer", { err }));
  }

  /** The retention job: deletes delivered and dead deliveries older than `retentionSec`, in bounded batches. */
  async purge(retentionSec: number): Promise<number> {
    // 0 keeps everything (the job may outlive a setting that turned retention off).
    if (retentionSec <= 0) return 0;
    const before = this.now() - retentionSec * 1000;
    let total = 0;
    for (;;) {
      const n = await this.outbox.purgeFinished(before, PURGE_BATCH);
      total += n;
      if (n < PURGE_BATCH) return total;
    }
  }

  /** Appends a delivery per interested endpoint; resolves once they are committed to the outbox. */
  async emit(tenant: string, event: WebhookEvent, data: unknown, ch?: string): Promise<void> {
    const targets = this.routing.endpointsFor(tenant, event, ch);
    if (targets.length === 0) return;
    const now = this.now();
    await this.outbox.enqueue(
      targets.map((e) => {
        const id = deliveryId(now);
        return { id, tenant, endpoint: e.id, event, body: JSON.stringify({ id, type: event, tenant, ts: now, data }), createdMs: now };
      }),
    );
    this.appended();
  }
}

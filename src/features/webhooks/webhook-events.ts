import type { WebhookEndpoint } from "../../store/ports.ts";

export const WEBHOOK_EVENTS = ["publication", "disconnect", "job.failed"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/**
 * Which endpoints want which events, precomputed whenever endpoints change
 * so that the publish path only asks `watchesChannel(ch)`: with no
 * publication webhook anywhere that is one length check; otherwise a loop of
 * `startsWith` over the watched namespaces' prefixes, without allocating.
 */
export class WebhookRouting {
  private prefixes: string[] = [];
  private byTenantEvent = new Map<string, WebhookEndpoint[]>();
  private byId = new Map<string, WebhookEndpoint>();

  replace(endpoints: readonly WebhookEndpoint[]): void {
    const prefixes = new Set<string>();
    const by = new Map<string, WebhookEndpoint[]>();
    for (const e of endpoints) {
      for (const ev of e.events) {
        const k = e.tenant + "\u0000" + ev;
        let list = by.get(k);
        if (!list) by.set(k, (list = []));
        list.push(e);
        if (ev === "publication") for (const ns of e.namespaces) prefixes.add(ns + ":");
      }
    }
    this.prefixes = [...prefixes];
    this.byTenantEvent = by;
    this.byId = new Map(endpoints.map((e) => [e.tenant + "\u0000" + e.id, e]));
  }

  endpoint(tenant: string, id: string): WebhookEndpoint | undefined {
    return this.byId.get(tenant + "\u0000" + id);
  }

  watchesChannel(ch: string): boolean {
    const p = this.prefixes;
    for (let i = 0; i < p.length; i++) if (ch.startsWith(p[i]!)) return true;
    return false;
  }

  watchesEvent(): boolean {
    return this.byTenantEvent.size > 0;
  }

  /** The tenant's endpoints for an event; for publications only those watching the channel's namespace. */
  endpointsFor(tenant: string, event: WebhookEvent, ch?: string): WebhookEndpoint[] {
    const list = this.byTenantEvent.get(tenant + "\u0000" + event);
    if (!list) return [];
    if (ch === undefined) return list;
    const ns = ch.slice(0, ch.indexOf(":"));
    return list.filter((e) => e.namespaces.includes(ns));
  }
}

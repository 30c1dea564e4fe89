import type { WebhookEndpoint } from "../../store/ports.ts";

/** Event types an endpoint may ask for (src/protocol/README.md, "Webhooks", says what each carries). */
export const WEBHOOK_EVENTS = ["publication", "connect", "disconnect", "read", "call.missed", "job.failed"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/**
 * Which endpoints want which events, precomputed whenever endpoints change
 * so that the publish path only asks `watchesChannel(ch)`: with no
 * publication webhook anywhere that is one length check; otherwise a loop of
 * `startsWith` over the watched namespaces' prefixes, without allocating.
 * Other events ask `watchesEvent(type)` first: one Set lookup when no
 * endpoint of any tenant wants the type.
 */
export class WebhookRouting {
  private prefixes: string[] = [];
  private byTenantEvent = new Map<string, WebhookEndpoint[]>();
  private byId = new Map<string, WebhookEndpoint>();
  private types = new Set<string>();

  replace(endpoints: readonly WebhookEndpoint[]): void {
    const prefixes = new Set<string>();
    const by = new Map<string, WebhookEndpoint[]>();
    const types = new Set<string>();
    for (const e of endpoints) {
      for (const ev of e.events) {
        types.add(ev);
        const k = e.tenant + "\u0000" + ev;
        let list = by.get(k);
        if (!list) by.set(k, (list = []));
        list.push(e);
        if (ev === "publication") for (const ns of e.namespaces) prefixes.add(ns + ":");
      }
    }
    this.prefixes = [...prefixes];
    this.byTenantEvent = by;
    this.types = types;
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

  /** Whether any endpoint (of any tenant) wants events of `type`. */
  watchesEvent(type: string): boolean {
    return this.types.has(type);
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

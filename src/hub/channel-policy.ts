import type { NamespacePolicy, Namespaces } from "../config/policy.ts";
import type { ChannelOptions } from "../engine/engine.ts";
import { SwitchboardError } from "../protocol/errors.ts";
import type { Principal } from "./ports.ts";

export interface ResolvedChannel {
  /** Client-visible name, e.g. `room:42`. */
  ch: string;
  ns: string;
  /** The part after the namespace, e.g. `42`. */
  rest: string;
  policy: NamespacePolicy;
  options: ChannelOptions;
}

const NO_HISTORY: ChannelOptions = { historySize: 0, historyTtlSec: 3600 };

/** The single place that decides who may subscribe to or publish on a channel. */
export class ChannelPolicy {
  private readonly options = new Map<string, ChannelOptions>();
  /** Resolved names of recently used channels (the hot path resolves the same few names over and over). */
  private readonly cache = new Map<string, ResolvedChannel>();

  /** Names of the token claims that some rule reads. */
  claimNames(): string[] {
    const names = new Set<string>();
    for (const p of Object.values(this.namespaces)) {
      for (const rule of [...p.subscribe, ...p.publish]) if (rule.startsWith("claim:")) names.add(rule.slice(6));
    }
    return [...names];
  }

  constructor(readonly namespaces: Namespaces) {
    for (const [ns, p] of Object.entries(namespaces)) {
      this.options.set(ns, p.history ? { historySize: p.history.size, historyTtlSec: p.history.ttlSec } : NO_HISTORY);
    }
  }

  /** Splits and looks up a syntactically valid channel name; RESOURCE_NOT_FOUND for an unknown namespace. */
  resolve(ch: string): ResolvedChannel {
    const hit = this.cache.get(ch);
    if (hit) return hit;
    const r = this.lookup(ch);
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(ch, r);
    return r;
  }

  private lookup(ch: string): ResolvedChannel {
    const i = ch.indexOf(":");
    const ns = ch.slice(0, i);
    const policy = this.namespaces[ns];
    if (i <= 0 || !policy || !Object.hasOwn(this.namespaces, ns)) {
      throw new SwitchboardError("RESOURCE_NOT_FOUND", `namespace ${JSON.stringify(ns)} is not configured`);
    }
    return { ch, ns, rest: ch.slice(i + 1), policy, options: this.options.get(ns)! };
  }

  canSubscribe(p: Principal, c: ResolvedChannel): boolean {
    return c.policy.subscribe.some((rule) => matches(rule, p, c.rest));
  }

  canPublish(p: Principal, c: ResolvedChannel): boolean {
    return c.policy.publish.some((rule) => matches(rule, p, c.rest));
  }

  assertSubscribe(p: Principal, c: ResolvedChannel): void {
    if (!this.canSubscribe(p, c)) throw new SwitchboardError("AUTHORIZATION_FAILED", `not allowed to subscribe to ${c.ch}`);
  }

  assertPublish(p: Principal, c: ResolvedChannel): void {
    if (!this.canPublish(p, c)) throw new SwitchboardError("AUTHORIZATION_FAILED", `not allowed to publish to ${c.ch}`);
  }
}

function matches(rule: string, p: Principal, rest: string): boolean {
  switch (rule) {
    case "self":
      return rest === p.sub;
    case "tenant":
      return true;
    case "tenant-id":
      return p.tenant !== "" && rest === p.tenant;
    case "server":
      return false;
  }
  if (rule.startsWith("role:")) return p.roles.includes(rule.slice(5));
  if (rule.startsWith("claim:")) {
    const claim = p.claims[rule.slice(6)];
    return typeof claim === "string" ? claim === rest : claim !== undefined && claim.includes(rest);
  }
  return false;
}

/** Channel key of the engine port: `<tenant>/<channel>`. */
export function channelKey(tenant: string, ch: string): string {
  return tenant + "/" + ch;
}

/** Topic of the join/leave frames of a channel key (only presence subscribers listen). */
export function presenceTopic(key: string): string {
  return key + "#p";
}

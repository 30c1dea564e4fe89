import type { NamespacePolicy, Namespaces } from "../config/policy.ts";
import type { ChannelOptions } from "../engine/engine.ts";
import { SwitchboardError } from "../protocol/errors.ts";
import type { ChannelTakeover, PublishQuestion, RecordRule } from "./features.ts";
import type { Principal } from "./ports.ts";

export interface ResolvedChannel {
  /** Client-visible name, e.g. `room:42`. */
  ch: string;
  ns: string;
  /** The part after the namespace, e.g. `42`. */
  rest: string;
  policy: NamespacePolicy;
  options: ChannelOptions;
  /** The namespace's rules, compiled once. */
  subscribeRules: readonly Rule[];
  publishRules: readonly Rule[];
  /** Rules decided by records (e.g. `member`), tried when no token rule allows. */
  subscribeRecordRules: readonly string[];
  publishRecordRules: readonly string[];
  /** The feature that carries this namespace's publications (persisted chat), if any. */
  takeover: ChannelTakeover | undefined;
}

/** A channel as one tenant sees it: its policy and its engine key. */
export interface Route {
  c: ResolvedChannel;
  key: string;
}

/** A compiled policy rule: does principal `p` pass for the channel part `rest`? */
type Rule = (p: Principal, rest: string) => boolean;

/**
 * Most names the resolve cache keeps before it starts over. Small: a lookup
 * is a few property reads (the namespace's parts are shared), and every
 * user's own channel (`user:<sub>`) passes through here once per connection,
 * so a large cache held ~300 B per connection for names never asked again.
 */
const CACHE_LIMIT = 1024;
/** Routes are kept for publishing, which goes to fewer channels than subscribing. */
const ROUTE_LIMIT = 4096;

const NO_HISTORY: ChannelOptions = { historySize: 0, historyTtlSec: 3600 };

/** The single place that decides who may subscribe to or publish on a channel. */
export class ChannelPolicy {
  private readonly options = new Map<string, ChannelOptions>();
  private readonly rules = new Map<string, { subscribe: Rule[]; publish: Rule[] }>();
  /** Resolved names of recently used channels (the hot path resolves the same few names over and over). */
  private readonly cache = new Map<string, ResolvedChannel>();
  /** What every channel of a namespace shares, built on first use. */
  private readonly parts = new Map<string, Omit<ResolvedChannel, "ch" | "rest">>();
  /** Routes by tenant, then channel name: the engine key is built once, not per frame. */
  private readonly routes = new Map<string, Map<string, Route>>();
  private routeCount = 0;
  private readonly recordRules = new Map<string, RecordRule>();
  private readonly takeovers: ChannelTakeover[] = [];

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
      this.rules.set(ns, { subscribe: p.subscribe.map(compile), publish: p.publish.map(compile) });
    }
  }

  /** A rule that a feature decides from records (features register before any channel is resolved). */
  registerRule(name: string, rule: RecordRule): void {
    this.recordRules.set(name, rule);
    this.forget();
  }

  registerTakeover(t: ChannelTakeover): void {
    this.takeovers.push(t);
    this.forget();
  }

  private forget(): void {
    this.lastRoute = undefined;
    this.cache.clear();
    this.parts.clear();
    this.routes.clear();
    this.routeCount = 0;
  }

  /** resolve() plus the tenant's engine key for the channel, cached. */
  route(tenant: string, ch: string): Route {
    // Publications come in runs to one channel of one tenant: the last route is kept at hand.
    const last = this.lastRoute;
    if (last !== undefined && ch === last.c.ch && tenant === this.lastTenant) return last;
    const r = this.routeOf(tenant, ch);
    this.lastRoute = r;
    this.lastTenant = tenant;
    return r;
  }

  private lastRoute: Route | undefined;
  private lastTenant = "";

  private routeOf(tenant: string, ch: string): Route {
    let byCh = this.routes.get(tenant);
    const hit = byCh?.get(ch);
    if (hit) return hit;
    const r = { c: this.resolve(ch), key: channelKey(tenant, ch) };
    if (this.routeCount >= ROUTE_LIMIT) {
      // (lastRoute stays valid: a route never changes, the cache only forgets it.)
      this.routes.clear();
      this.routeCount = 0;
      byCh = undefined;
    }
    if (!byCh) this.routes.set(tenant, (byCh = new Map()));
    byCh.set(ch, r);
    this.routeCount++;
    return r;
  }

  /** Splits and looks up a syntactically valid channel name; RESOURCE_NOT_FOUND for an unknown namespace. */
  resolve(ch: string): ResolvedChannel {
    const hit = this.cache.get(ch);
    if (hit) return hit;
    const r = this.lookup(ch);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(ch, r);
    return r;
  }

  private lookup(ch: string): ResolvedChannel {
    const i = ch.indexOf(":");
    const nsName = ch.slice(0, i);
    const n = (i > 0 && this.parts.get(nsName)) || this.namespaceParts(nsName, i);
    return {
      ch,
      ns: n.ns,
      rest: ch.slice(i + 1),
      policy: n.policy,
      options: n.options,
      subscribeRules: n.subscribeRules,
      publishRules: n.publishRules,
      subscribeRecordRules: n.subscribeRecordRules,
      publishRecordRules: n.publishRecordRules,
      takeover: n.takeover,
    };
  }

  private namespaceParts(ns: string, colon: number): Omit<ResolvedChannel, "ch" | "rest"> {
    const policy = this.namespaces[ns];
    if (colon <= 0 || !policy || !Object.hasOwn(this.namespaces, ns)) {
      throw new SwitchboardError("RESOURCE_NOT_FOUND", `namespace ${JSON.stringify(ns)} is not configured`);
    }
    const rules = this.rules.get(ns)!;
    const n = {
      ns,
      policy,
      options: this.options.get(ns)!,
      subscribeRules: rules.subscribe,
      publishRules: rules.publish,
      subscribeRecordRules: policy.subscribe.filter(isRecordRule),
      publishRecordRules: policy.publish.filter(isRecordRule),
      takeover: this.takeovers.find((t) => t.claims(policy)),
    };
    this.parts.set(ns, n);
    return n;
  }

  /** assertSubscribe, also trying record rules: undefined when decided at once, else a promise. */
  checkSubscribe(p: Principal, c: ResolvedChannel): void | Promise<void> {
    if (passes(c.subscribeRules, p, c.rest)) return;
    if (c.subscribeRecordRules.length === 0) return this.assertSubscribe(p, c);
    return this.checkRecords(p, c, c.subscribeRecordRules, `not allowed to subscribe to ${c.ch}`, "subscribe");
  }

  /** assertPublish, also trying record rules (which may look at the event and data of `pub`). */
  checkPublish(p: Principal, c: ResolvedChannel, pub?: PublishQuestion): void | Promise<void> {
    if (passes(c.publishRules, p, c.rest)) return;
    if (c.publishRecordRules.length === 0) return this.assertPublish(p, c);
    return this.checkRecords(p, c, c.publishRecordRules, `not allowed to publish to ${c.ch}`, "publish", pub);
  }

  private async checkRecords(p: Principal, c: ResolvedChannel, names: readonly string[], denied: string, action: "subscribe" | "publish", pub?: PublishQuestion): Promise<void> {
    for (const name of names) {
      const rule = this.recordRules.get(name);
      if (rule && (await rule(p, c, action, pub))) return;
    }
    throw new SwitchboardError("AUTHORIZATION_FAILED", denied);
  }

  canSubscribe(p: Principal, c: ResolvedChannel): boolean {
    return passes(c.subscribeRules, p, c.rest);
  }

  canPublish(p: Principal, c: ResolvedChannel): boolean {
    return passes(c.publishRules, p, c.rest);
  }

  assertSubscribe(p: Principal, c: ResolvedChannel): void {
    if (!this.canSubscribe(p, c)) throw new SwitchboardError("AUTHORIZATION_FAILED", `not allowed to subscribe to ${c.ch}`);
  }

  assertPublish(p: Principal, c: ResolvedChannel): void {
    if (!this.canPublish(p, c)) throw new SwitchboardError("AUTHORIZATION_FAILED", `not allowed to publish to ${c.ch}`);
  }
}

function passes(rules: readonly Rule[], p: Principal, rest: string): boolean {
  for (let i = 0; i < rules.length; i++) if (rules[i]!(p, rest)) return true;
  return false;
}

/** Rules no token can satisfy: a feature decides them from records. */
const RECORD_RULES: ReadonlySet<string> = new Set(["member", "participant", "backend"]);
const isRecordRule = (rule: string) => RECORD_RULES.has(rule);

function compile(rule: string): Rule {
  switch (rule) {
    case "member":
    case "participant":
    case "backend":
      return () => false;
    case "self":
      return (p, rest) => rest === p.sub;
    case "tenant":
      return () => true;
    case "tenant-id":
      return (p, rest) => p.tenant !== "" && rest === p.tenant;
    case "server":
      return () => false;
  }
  if (rule.startsWith("role:")) {
    const role = rule.slice(5);
    return (p) => p.roles.includes(role);
  }
  if (rule.startsWith("claim:")) {
    const name = rule.slice(6);
    return (p, rest) => {
      const claim = p.claims[name];
      return typeof claim === "string" ? claim === rest : claim !== undefined && claim.includes(rest);
    };
  }
  // The config loader rejects unknown rules; anything else denies.
  return () => false;
}

/** Channel key of the engine port: `<tenant>/<channel>`. */
export function channelKey(tenant: string, ch: string): string {
  return tenant + "/" + ch;
}

/** Topic of the join/leave frames of a channel key (only presence subscribers listen). */
export function presenceTopic(key: string): string {
  return key + "#p";
}

import type { ChannelOptions, Engine, PublicationInput, PublishReceiver } from "../../engine/engine.ts";
import type { Feature, RecordRule } from "../../hub/features.ts";
import type { Conn } from "../../hub/ports.ts";
import type { Logger } from "../../observability/logger.ts";
import { CLOSE } from "../../protocol/codes.ts";
import { WEBHOOK_EVENTS, type WebhookEvent } from "./webhook-events.ts";
import type { WebhookService } from "./webhook-service.ts";

/** How the node names a connection in events: its cluster-wide id and the node's id. */
export interface ConnNames {
  connId(conn: Conn): string;
  node: string;
}

const FORWARDED: ReadonlySet<string> = new Set<string>(WEBHOOK_EVENTS);

/** Why a socket closed, in a word a backend can switch on; `code` goes along for the rest. */
const REASONS: Readonly<Record<number, string>> = {
  [CLOSE.NORMAL]: "closed",
  [CLOSE.GOING_AWAY]: "going-away",
  [CLOSE.ABNORMAL]: "connection-lost",
  [CLOSE.POLICY]: "policy",
  [CLOSE.TOO_BIG]: "message-too-big",
  [CLOSE.RESTART]: "server-restart",
  [CLOSE.AUTH_FAILED]: "authentication-failed",
  [CLOSE.TOKEN_EXPIRED]: "token-expired",
  [CLOSE.TOO_MANY_CONNECTIONS]: "too-many-connections",
};

/**
 * The hub side of webhooks: connects and disconnects of authenticated users,
 * the events other features raise through `hub.event` (chat `read`,
 * `call.missed`), endpoint changes made on another node, and the `backend`
 * policy rule. Each asks `watchesEvent(type)` first: a type no endpoint
 * wants costs one Set lookup and builds nothing.
 */
export function webhooksFeature(service: WebhookService, logger: Logger, names: ConnNames, backendRule?: RecordRule): Feature {
  const emit = (tenant: string, type: WebhookEvent, data: Record<string, unknown>): Promise<void> =>
    service.emit(tenant, type, data).catch((err) => logger.warn(`webhook ${type} event not stored`, { err, tenant }));
  return {
    name: "webhooks",
    ...(backendRule ? { rules: { backend: backendRule } } : {}),
    connected(conn: Conn) {
      const p = conn.data.principal;
      if (!p || !service.routing.watchesEvent("connect")) return;
      void emit(p.tenant, "connect", { user: p.sub, conn: names.connId(conn), node: names.node });
    },
    closed(conn: Conn, _released, code) {
      const p = conn.data.principal;
      if (!p || !service.routing.watchesEvent("disconnect")) return;
      void emit(p.tenant, "disconnect", { user: p.sub, conn: names.connId(conn), node: names.node, code, reason: REASONS[code] ?? "closed" });
    },
    event(tenant, type, data) {
      if (!FORWARDED.has(type) || !service.routing.watchesEvent(type)) return undefined;
      return emit(tenant, type as WebhookEvent, data);
    },
    control(body) {
      if (body.op === "reload") void service.reload().catch((err) => logger.warn("webhook endpoints reload failed", { err }));
    },
  };
}

/**
 * Wraps the engine's publish paths (the promise one of the API and features,
 * the receiver one of the WebSocket hot path) so that an accepted
 * publication on a watched namespace is appended to the outbox before the
 * publish is reported. An unwatched channel costs one `watchesChannel`
 * check (no allocation) and goes straight through. Engines implement one
 * path through the other: a publication is tapped once, on the outer path.
 */
export function tapPublications(engine: Engine, service: WebhookService, logger: Logger): void {
  const publish = engine.publish.bind(engine);
  const publishTo = engine.publishTo.bind(engine);
  const tapped = new WeakSet<PublicationInput>();
  const append = (key: string, pub: PublicationInput, off: string): Promise<void> => {
    const tenant = key.slice(0, key.length - pub.ch.length - 1);
    // A failed append is logged; the publish stands.
    return service
      .emit(tenant, "publication", { ch: pub.ch, off, ev: pub.ev, data: JSON.parse(pub.data), ...(pub.from !== undefined ? { from: pub.from } : {}) }, pub.ch)
      .catch((err) => logger.warn("webhook publication event not stored", { err, tenant, ch: pub.ch }));
  };
  engine.publish = (key: string, pub: PublicationInput, opts: ChannelOptions): Promise<string> => {
    if (!service.routing.watchesChannel(pub.ch) || tapped.has(pub)) return publish(key, pub, opts);
    tapped.add(pub);
    return publish(key, pub, opts).then(async (off) => {
      await append(key, pub, off);
      return off;
    });
  };
  // Chat publishes records first (the engine publishes the batch after the store commit): its publications are events too.
  const publishCommitted = engine.publishCommitted.bind(engine);
  engine.publishCommitted = async (key, pubs, opts, commit, holdMs) => {
    const watched = pubs.map((p) => service.routing.watchesChannel(p.ch) && !tapped.has(p));
    if (!watched.includes(true)) return publishCommitted(key, pubs, opts, commit, holdMs);
    pubs.forEach((p, i) => watched[i] && tapped.add(p));
    const offs = await publishCommitted(key, pubs, opts, commit, holdMs);
    await Promise.all(pubs.map((p, i) => (watched[i] ? append(key, p, offs[i]!) : undefined)));
    return offs;
  };
  engine.publishTo = <T>(key: string, pub: PublicationInput, opts: ChannelOptions, receiver: PublishReceiver<T>, tag: T): void => {
    if (!service.routing.watchesChannel(pub.ch) || tapped.has(pub)) return publishTo(key, pub, opts, receiver, tag);
    tapped.add(pub);
    publishTo(key, pub, opts, { published: (t, off) => void append(key, pub, off).then(() => receiver.published(t, off)), failed: (t, err) => receiver.failed(t, err) }, tag);
  };
}

import type { ChannelOptions, Engine, PublicationInput, PublishReceiver } from "../../engine/engine.ts";
import type { Feature, RecordRule } from "../../hub/features.ts";
import type { Conn } from "../../hub/ports.ts";
import type { Logger } from "../../observability/logger.ts";
import type { WebhookService } from "./webhook-service.ts";

/** The hub side of webhooks: disconnects of authenticated users, endpoint changes made on another node, and the `backend` policy rule. */
export function webhooksFeature(service: WebhookService, logger: Logger, backendRule?: RecordRule): Feature {
  return {
    name: "webhooks",
    ...(backendRule ? { rules: { backend: backendRule } } : {}),
    closed(conn: Conn) {
      const p = conn.data.principal;
      if (!p || !service.routing.watchesEvent()) return;
      void service.emit(p.tenant, "disconnect", { user: p.sub }).catch((err) => logger.warn("webhook disconnect event not stored", { err, tenant: p.tenant }));
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

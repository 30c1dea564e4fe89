import type { ChannelOptions, Engine, PublicationInput } from "../../engine/engine.ts";
import type { Feature } from "../../hub/features.ts";
import type { Conn } from "../../hub/ports.ts";
import type { Logger } from "../../observability/logger.ts";
import type { WebhookService } from "./webhook-service.ts";

/** The hub side of webhooks: disconnects of authenticated users, and endpoint changes made on another node. */
export function webhooksFeature(service: WebhookService, logger: Logger): Feature {
  return {
    name: "webhooks",
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
 * Wraps the engine's publish so that an accepted publication on a watched
 * namespace is appended to the outbox before the publish resolves. An unwatched channel costs one
 * `watchesChannel` check (no allocation) and the publish is untouched.
 */
export function tapPublications(engine: Engine, service: WebhookService, logger: Logger): void {
  const publish = engine.publish.bind(engine);
  engine.publish = (key: string, pub: PublicationInput, opts: ChannelOptions): Promise<string> => {
    if (!service.routing.watchesChannel(pub.ch)) return publish(key, pub, opts);
    // The publish is acknowledged once the event is in the outbox too (a failed append is logged, the publish stands).
    return publish(key, pub, opts).then(async (off) => {
      const tenant = key.slice(0, key.length - pub.ch.length - 1);
      await service
        .emit(tenant, "publication", { ch: pub.ch, off, ev: pub.ev, data: JSON.parse(pub.data), ...(pub.from !== undefined ? { from: pub.from } : {}) }, pub.ch)
        .catch((err) => logger.warn("webhook publication event not stored", { err, tenant, ch: pub.ch }));
      return off;
    });
  };
}

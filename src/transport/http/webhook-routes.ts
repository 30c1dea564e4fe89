import { Hono } from "hono";
import * as v from "valibot";
import { WEBHOOK_EVENTS } from "../../features/webhooks/webhook-events.ts";
import type { WebhookService } from "../../features/webhooks/webhook-service.ts";
import type { Logger } from "../../observability/logger.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookOutbox } from "../../store/ports.ts";
import { intParam, onlyQuery, parseBody, tenantOf } from "./body.ts";
import { readJson } from "./errors.ts";

type Env = { Variables: { apiKey: number } };

const PutWebhook = v.strictObject({
  tenant: v.optional(v.string("must be a string")),
  id: v.optional(v.pipe(v.string("must be a string"), v.regex(/^[A-Za-z0-9_.\-]{1,64}$/, "must be 1–64 of [A-Za-z0-9_.-]"))),
  url: v.pipe(v.string("must be a string"), v.url("must be a URL"), v.regex(/^https?:\/\//, "must be an http(s) URL")),
  secret: v.optional(v.pipe(v.string("must be a string"), v.minLength(16, "at least 16 characters"), v.maxLength(200, "at most 200 characters"))),
  events: v.pipe(v.array(v.picklist(WEBHOOK_EVENTS, `must be one of ${WEBHOOK_EVENTS.join(", ")}`), "must be an array"), v.minLength(1, "must not be empty")),
  namespaces: v.optional(v.pipe(v.array(v.pipe(v.string("must be a string"), v.regex(/^[A-Za-z0-9_.@=\-]{1,64}$/, "must be a namespace name")), "must be an array"), v.maxLength(100, "at most 100 namespaces"))),
  ratePerSec: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(0, "must be ≥ 0"), v.maxValue(10_000, "must be ≤ 10000"))),
});
const STATES: readonly DeliveryState[] = ["pending", "delivered", "dead"];

const endpointView = (e: WebhookEndpoint) => ({ id: e.id, url: e.url, events: e.events, namespaces: e.namespaces, ratePerSec: e.ratePerSec, created: new Date(e.createdMs).toISOString() });
const deliveryView = (d: WebhookDelivery) => ({
  id: d.id,
  webhook: d.endpoint,
  event: d.event,
  state: d.state,
  attempts: d.attempts,
  ...(d.lastError !== null ? { lastError: d.lastError } : {}),
  ...(d.lastStatus !== null ? { lastStatus: d.lastStatus } : {}),
  created: new Date(d.createdMs).toISOString(),
  ...(d.deliveredMs !== null ? { delivered: new Date(d.deliveredMs).toISOString() } : {}),
  ...(d.state === "pending" ? { nextAttempt: new Date(d.nextMs).toISOString() } : {}),
  body: JSON.parse(d.body),
});

/** The webhooks API (src/protocol/README.md, "Webhooks"). */
export function webhookRoutes(webhooks: WebhookService, outbox: WebhookOutbox, wake: () => void, logger: Logger): Hono<Env> {
  const r = new Hono<Env>();

  r.post("/webhooks", async (c) => {
    const b = parseBody(PutWebhook, await readJson(c));
    const tenant = tenantOf(b.tenant);
    const e = await webhooks.put(tenant, b);
    logger.audit("api_webhook_put", { key: c.get("apiKey"), tenant, webhook: e.id, events: e.events.join(",") });
    // The secret is shown once, to the caller that set (or got) it.
    return c.json({ ...endpointView(e), secret: e.secret }, 201);
  });

  r.get("/webhooks", async (c) => {
    onlyQuery(c.req.query(), ["tenant"]);
    return c.json({ webhooks: (await webhooks.list(tenantOf(c.req.query("tenant")))).map(endpointView) });
  });

  r.delete("/webhooks/:id", async (c) => {
    onlyQuery(c.req.query(), ["tenant"]);
    const tenant = tenantOf(c.req.query("tenant"));
    await webhooks.remove(tenant, c.req.param("id"));
    logger.audit("api_webhook_remove", { key: c.get("apiKey"), tenant, webhook: c.req.param("id") });
    return c.json({ removed: true });
  });

  r.get("/webhooks/:id/deliveries", async (c) => {
    onlyQuery(c.req.query(), ["tenant", "state", "limit"]);
    const tenant = tenantOf(c.req.query("tenant"));
    const state = c.req.query("state");
    if (state !== undefined && !STATES.includes(state as DeliveryState)) throw new SwitchboardError("VALIDATION_ERROR", `state: must be one of ${STATES.join(", ")}`);
    const limit = intParam("limit", c.req.query("limit"), 1, 1000, 100)!;
    const list = await outbox.deliveries({ tenant, endpoint: c.req.param("id"), state: state as DeliveryState | undefined, limit });
    return c.json({ deliveries: list.map(deliveryView) });
  });

  r.post("/webhooks/deliveries/:id/replay", async (c) => {
    onlyQuery(c.req.query(), ["tenant"]);
    const tenant = tenantOf(c.req.query("tenant"));
    if (!(await outbox.replay(tenant, c.req.param("id"), Date.now()))) throw new SwitchboardError("RESOURCE_NOT_FOUND", "no such delivery");
    wake();
    logger.audit("api_webhook_replay", { key: c.get("apiKey"), tenant, delivery: c.req.param("id") });
    return c.json({ replayed: true });
  });

  return r;
}

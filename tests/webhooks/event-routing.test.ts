import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { webhooksFeature } from "../../src/features/webhooks/webhooks-feature.ts";
import { WebhookService } from "../../src/features/webhooks/webhook-service.ts";
import type { Conn } from "../../src/hub/ports.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";

/**
 * The "costs nothing" side of the events, on a real SQLite outbox: a type no
 * endpoint asks for is refused before anything is built or stored, and only
 * the asking tenant's endpoints get a delivery.
 */
let dir: string;
let store: SqliteStore;
let service: WebhookService;
const now = Date.parse("2026-12-01T09:00:00Z");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sb-wh-routing-"));
  store = new SqliteStore(dir);
  await store.start();
  service = new WebhookService(store.webhooks, async () => {}, () => now, createLogger("error"));
  await service.start(60_000);
  await service.put("clinic-a", { id: "reads", url: "http://127.0.0.1:9/hook", events: ["read"] });
});
afterAll(async () => {
  service?.stop();
  await store?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const pending = async (tenant: string) => store.webhooks.deliveries({ tenant, endpoint: "reads", limit: 100 });

test("a type nobody asked for returns undefined at once: no promise, no event body, no outbox row", async () => {
  const feature = webhooksFeature(service, createLogger("error"), { connId: () => "n.1", node: "n" });
  expect(feature.event!("clinic-a", "call.missed", { call: "c1", invitee: "pat", caller: "doc" })).toBeUndefined();
  expect(feature.event!("clinic-a", "not-a-webhook-type", {})).toBeUndefined();
  // connect/disconnect are not asked for either: nothing is appended.
  const conn = { data: { principal: { sub: "ann", tenant: "clinic-a", roles: [], claims: {}, expMs: undefined } } } as unknown as Conn;
  feature.connected!(conn);
  feature.closed!(conn, Promise.resolve(), 1000);
  expect(await pending("clinic-a")).toEqual([]);
});

test("a type some endpoint asks for is stored for that endpoint's tenant only", async () => {
  const feature = webhooksFeature(service, createLogger("error"), { connId: () => "n.1", node: "n" });
  await feature.event!("clinic-b", "read", { conversation: "v", user: "bob", off: "3" });
  expect(await store.webhooks.deliveries({ tenant: "clinic-b", limit: 100 })).toEqual([]);
  await feature.event!("clinic-a", "read", { conversation: "v", user: "bob", off: "3" });
  const [d] = await pending("clinic-a");
  expect(d).toMatchObject({ state: "pending", event: "read", endpoint: "reads" });
  expect(JSON.parse(d!.body)).toMatchObject({ type: "read", tenant: "clinic-a", data: { conversation: "v", user: "bob", off: "3" } });
});

import type { DeliveryClaim, DeliveryOutcome, DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookOutbox } from "../ports.ts";
import type { StoreAvailability } from "./availability.ts";
import type { SqlDriver, SqlStatement, SqlValue } from "./driver.ts";

interface DeliveryRow {
  id: string;
  tenant: string;
  endpoint: string;
  event: string;
  body: string;
  state: string;
  attempts: number | string;
  next_ms: number | string;
  last_error: string | null;
  last_status: number | string | null;
  created_ms: number | string;
  delivered_ms: number | string | null;
}

interface EndpointRow {
  tenant: string;
  id: string;
  url: string;
  secret: string;
  events: string;
  namespaces: string;
  rate_per_sec: number | string;
  created_ms: number | string;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toDelivery(r: DeliveryRow): WebhookDelivery {
  return {
    id: r.id,
    tenant: r.tenant,
    endpoint: r.endpoint,
    event: r.event,
    body: r.body,
    state: r.state as DeliveryState,
    attempts: Number(r.attempts),
    nextMs: Number(r.next_ms),
    lastError: r.last_error,
    lastStatus: num(r.last_status),
    createdMs: Number(r.created_ms),
    deliveredMs: num(r.delivered_ms),
  };
}

function toEndpoint(r: EndpointRow): WebhookEndpoint {
  return { tenant: r.tenant, id: r.id, url: r.url, secret: r.secret, events: JSON.parse(r.events), namespaces: JSON.parse(r.namespaces), ratePerSec: Number(r.rate_per_sec), createdMs: Number(r.created_ms) };
}

let leaseSeq = 0;

/** The webhook outbox on any SqlDriver; claims like the job queue (SKIP LOCKED on PostgreSQL). */
export class SqlWebhookOutbox implements WebhookOutbox {
  private readonly claimSql: string;

  constructor(
    private readonly driver: SqlDriver,
    private readonly availability: StoreAvailability,
    private readonly batched: (statements: SqlStatement[]) => Promise<void>,
  ) {
    const lock = driver.kind === "postgres" ? " FOR UPDATE SKIP LOCKED" : "";
    // A claimed delivery stays `pending` with a lease: an expired lease makes it claimable again.
    this.claimSql = `UPDATE webhook_deliveries SET attempts = attempts + 1, lease_owner = ?, lease_until = ?
      WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_ms <= ? AND (lease_until IS NULL OR lease_until < ?)
        ORDER BY next_ms, id LIMIT ?${lock})
      RETURNING *`;
  }

  private read<T>(sql: string, params: SqlValue[]): Promise<T[]> {
    return this.availability.guard(this.driver.query<T>(sql, params));
  }

  private run(sql: string, params: SqlValue[]): Promise<number> {
    this.availability.assertUp();
    return this.availability.guard(this.driver.run(sql, params));
  }

  async putEndpoint(e: WebhookEndpoint): Promise<void> {
    await this.run(
      `INSERT INTO webhook_endpoints (tenant, id, url, secret, events, namespaces, rate_per_sec, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant, id) DO UPDATE SET url = excluded.url, secret = excluded.secret, events = excluded.events, namespaces = excluded.namespaces, rate_per_sec = excluded.rate_per_sec`,
      [e.tenant, e.id, e.url, e.secret, JSON.stringify(e.events), JSON.stringify(e.namespaces), e.ratePerSec, e.createdMs],
    );
  }

  async endpoints(tenant?: string): Promise<WebhookEndpoint[]> {
    const rows =
      tenant === undefined
        ? await this.read<EndpointRow>("SELECT * FROM webhook_endpoints ORDER BY tenant, id", [])
        : await this.read<EndpointRow>("SELECT * FROM webhook_endpoints WHERE tenant = ? ORDER BY id", [tenant]);
    return rows.map(toEndpoint);
  }

  async removeEndpoint(tenant: string, id: string): Promise<boolean> {
    return (await this.run("DELETE FROM webhook_endpoints WHERE tenant = ? AND id = ?", [tenant, id])) > 0;
  }

  async enqueue(deliveries: readonly Pick<WebhookDelivery, "id" | "tenant" | "endpoint" | "event" | "body" | "createdMs">[]): Promise<void> {
    if (deliveries.length === 0) return;
    this.availability.assertUp();
    await this.availability.guard(
      this.batched(
        deliveries.map((d) => ({
          sql: "INSERT INTO webhook_deliveries (id, tenant, endpoint, event, body, state, attempts, next_ms, created_ms) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
          params: [d.id, d.tenant, d.endpoint, d.event, d.body, d.createdMs, d.createdMs],
        })),
      ),
    );
  }

  async claimDeliveries(owner: string, limit: number, nowMs: number, leaseMs: number): Promise<DeliveryClaim[]> {
    if (limit <= 0 || !this.availability.up) return [];
    const lease = `${owner}#${(++leaseSeq).toString(36)}`;
    const rows = await this.availability.quiet(this.driver.query<DeliveryRow>(this.claimSql, [lease, nowMs + leaseMs, nowMs, nowMs, limit]));
    return rows.map((r) => ({ delivery: toDelivery(r), lease }));
  }

  async finishDelivery(id: string, lease: string, o: DeliveryOutcome, nowMs: number): Promise<boolean> {
    const held = "WHERE id = ? AND lease_owner = ? AND state = 'pending'";
    if (o.type === "defer") {
      return (await this.run(`UPDATE webhook_deliveries SET attempts = attempts - 1, next_ms = ?, lease_owner = NULL, lease_until = NULL ${held}`, [o.nextMs, id, lease])) > 0;
    }
    if (o.type === "delivered") {
      return (await this.run(`UPDATE webhook_deliveries SET state = 'delivered', delivered_ms = ?, last_status = ?, last_error = NULL, lease_owner = NULL, lease_until = NULL ${held}`, [nowMs, o.status, id, lease])) > 0;
    }
    return (
      (await this.run(`UPDATE webhook_deliveries SET state = ?, next_ms = ?, last_error = ?, last_status = ?, lease_owner = NULL, lease_until = NULL ${held}`, [
        o.type === "dead" ? "dead" : "pending",
        o.type === "retry" ? o.nextMs : nowMs,
        o.error,
        o.status,
        id,
        lease,
      ])) > 0
    );
  }

  async deliveries(q: { tenant: string; endpoint?: string; state?: DeliveryState; limit: number }): Promise<WebhookDelivery[]> {
    let sql = "SELECT * FROM webhook_deliveries WHERE tenant = ?";
    const params: SqlValue[] = [q.tenant];
    if (q.endpoint !== undefined) {
      sql += " AND endpoint = ?";
      params.push(q.endpoint);
    }
    if (q.state !== undefined) {
      sql += " AND state = ?";
      params.push(q.state);
    }
    params.push(q.limit);
    return (await this.read<DeliveryRow>(sql + " ORDER BY created_ms DESC, id DESC LIMIT ?", params)).map(toDelivery);
  }

  async replay(tenant: string, id: string, nowMs: number): Promise<boolean> {
    return (await this.run("UPDATE webhook_deliveries SET state = 'pending', next_ms = ?, attempts = 0, lease_owner = NULL, lease_until = NULL WHERE tenant = ? AND id = ?", [nowMs, tenant, id])) > 0;
  }

  async purgeFinished(beforeMs: number, limit: number): Promise<number> {
    // A dead delivery's next_ms is the time it was dead-lettered (finishDelivery).
    return this.run(
      `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
        WHERE (state = 'delivered' AND delivered_ms < ?) OR (state = 'dead' AND next_ms < ?) LIMIT ?)`,
      [beforeMs, beforeMs, limit],
    );
  }

  async pendingCounts(): Promise<Map<string, number>> {
    const rows = await this.read<{ endpoint: string; n: number | string }>("SELECT endpoint, count(*) AS n FROM webhook_deliveries WHERE state = 'pending' GROUP BY endpoint", []);
    return new Map(rows.map((r) => [r.endpoint, Number(r.n)]));
  }
}

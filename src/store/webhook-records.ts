/** Webhook endpoints, the durable outbox of their deliveries, and rendered report files behind download links. */

/** A rendered report kept for a download link (the `report` job action's inbox delivery). */
export interface ReportFile {
  id: string;
  tenant: string;
  /** SHA-256 (hex) of the link's token; the token itself is never stored. */
  tokenHash: string;
  fileName: string;
  pages: number;
  pdf: Uint8Array;
  /** The job that rendered it. */
  job: string | null;
  createdMs: number;
  expiresMs: number;
}

export interface ReportFileStore {
  putReportFile(f: ReportFile): Promise<void>;
  /** The file, expired or not (the caller decides); undefined once deleted. */
  reportFile(id: string): Promise<ReportFile | undefined>;
  /** Deletes files whose link expired before `nowMs`; answers how many went. */
  deleteExpiredReportFiles(nowMs: number): Promise<number>;
}

export interface WebhookEndpoint {
  tenant: string;
  id: string;
  url: string;
  /** Signs deliveries (HMAC-SHA256); never shown again after creation. */
  secret: string;
  /** Event types (features/webhooks/webhook-events.ts): publication, connect, disconnect, read, call.missed, job.failed. */
  events: string[];
  /** For `publication`: the namespaces whose publications are sent. */
  namespaces: string[];
  /** Deliveries per second to this endpoint, per node. */
  ratePerSec: number;
  createdMs: number;
}

export type DeliveryState = "pending" | "delivered" | "dead";

export interface WebhookDelivery {
  id: string;
  tenant: string;
  endpoint: string;
  event: string;
  /** The JSON body sent. */
  body: string;
  state: DeliveryState;
  attempts: number;
  nextMs: number;
  lastError: string | null;
  lastStatus: number | null;
  createdMs: number;
  deliveredMs: number | null;
}

export interface DeliveryClaim {
  delivery: WebhookDelivery;
  lease: string;
}

export type DeliveryOutcome =
  | { type: "delivered"; status: number }
  | { type: "retry"; error: string; status: number | null; nextMs: number }
  | { type: "dead"; error: string; status: number | null }
  /** Not sent (rate limit, open breaker): due again at `nextMs`, no attempt counted. */
  | { type: "defer"; nextMs: number };

/**
 * The webhook outbox: an event is appended (one batched insert per event
 * loop turn, like chat messages) and delivered later by whichever node
 * claims it, under a lease, so nothing appended is lost across restarts.
 */
export interface WebhookOutbox {
  putEndpoint(e: WebhookEndpoint): Promise<void>;
  /** Every tenant's endpoints when `tenant` is undefined. */
  endpoints(tenant?: string): Promise<WebhookEndpoint[]>;
  removeEndpoint(tenant: string, id: string): Promise<boolean>;
  /** *Batched.* Appends deliveries (pending, due now). */
  enqueue(deliveries: readonly Pick<WebhookDelivery, "id" | "tenant" | "endpoint" | "event" | "body" | "createdMs">[]): Promise<void>;
  claimDeliveries(owner: string, limit: number, nowMs: number, leaseMs: number): Promise<DeliveryClaim[]>;
  finishDelivery(id: string, lease: string, outcome: DeliveryOutcome, nowMs: number): Promise<boolean>;
  /** Newest first. */
  deliveries(q: { tenant: string; endpoint?: string; state?: DeliveryState; limit: number }): Promise<WebhookDelivery[]>;
  /** Puts a dead (or delivered) delivery back in the queue, due now; false when there is no such delivery. */
  replay(tenant: string, id: string, nowMs: number): Promise<boolean>;
  /** Pending deliveries per endpoint (for /health). */
  pendingCounts(): Promise<Map<string, number>>;
  /**
   * Retention: deletes delivered deliveries delivered before `beforeMs` and
   * dead ones dead-lettered before it, at most `limit` rows; resolves with
   * how many went (call again while it returns `limit`). Pending ones stay.
   */
  purgeFinished(beforeMs: number, limit: number): Promise<number>;
}

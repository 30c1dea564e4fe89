/**
 * A small Prometheus registry: counters and gauges keyed by one optional
 * label, and fixed-bucket histograms. Hot-path updates are a property
 * increment; text is built only when /metrics is scraped.
 */
type Labels = Record<string, string>;

function labelText(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** One labelled series; hot paths keep a reference and bump `value`. */
export interface Cell {
  value: number;
}

export class Counter {
  private readonly cells = new Map<string, Cell>();
  constructor(readonly name: string, readonly help: string, readonly kind: "counter" | "gauge" = "counter") {}

  /** The series for `labels`, created on first use; keep it to avoid per-call label work. */
  cell(labels?: Labels): Cell {
    const key = labels ? labelText(labels) : "";
    let c = this.cells.get(key);
    if (!c) this.cells.set(key, (c = { value: 0 }));
    return c;
  }

  inc(labels?: Labels, by = 1): void {
    this.cell(labels).value += by;
  }

  set(value: number, labels?: Labels): void {
    this.cell(labels).value = value;
  }

  get(labels?: Labels): number {
    return this.cells.get(labels ? labelText(labels) : "")?.value ?? 0;
  }

  /** Sum over every label set. */
  total(): number {
    let sum = 0;
    for (const c of this.cells.values()) sum += c.value;
    return sum;
  }

  render(): string {
    let s = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.kind}\n`;
    if (this.cells.size === 0 && this.kind === "gauge") s += `${this.name} 0\n`;
    for (const [key, c] of this.cells) s += `${this.name}${key} ${c.value}\n`;
    return s;
  }
}

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {
    this.counts = new Array(buckets.length).fill(0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }

  /** Per-bucket counts (not cumulative) and the total count, for interval quantiles. */
  snapshot(): { counts: number[]; count: number } {
    return { counts: [...this.counts], count: this.count };
  }

  render(): string {
    let s = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    let cum = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cum += this.counts[i]!;
      s += `${this.name}_bucket{le="${this.buckets[i]}"} ${cum}\n`;
    }
    s += `${this.name}_bucket{le="+Inf"} ${this.count}\n${this.name}_sum ${this.sum}\n${this.name}_count ${this.count}\n`;
    return s;
  }
}

/** Every metric Switchboard exports. */
export class Metrics {
  readonly connections = new Counter("switchboard_connections", "Open WebSocket connections on this node", "gauge");
  readonly connects = new Counter("switchboard_connects_total", "WebSocket connections accepted");
  readonly disconnects = new Counter("switchboard_disconnects_total", "WebSocket connections closed, by close code");
  readonly authFailures = new Counter("switchboard_auth_failures_total", "Authentication failures");
  readonly messagesIn = new Counter("switchboard_messages_in_total", "Client frames received, by type");
  readonly messagesOut = new Counter("switchboard_messages_out_total", "Frames sent to clients, by type");
  readonly publishes = new Counter("switchboard_publishes_total", "Publications accepted by the engine, by source");
  readonly publishesWs = this.publishes.cell({ source: "ws" });
  readonly publishesApi = this.publishes.cell({ source: "api" });
  readonly publishLatency = new Histogram("switchboard_publish_duration_seconds", "Time from publish request to engine acknowledgement", [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
  ]);
  readonly subscriptions = new Counter("switchboard_subscriptions", "Active channel subscriptions on this node", "gauge");
  readonly channels = new Counter("switchboard_channels", "Channels the engine keeps state for on this node (published to, or delivered to local subscribers)", "gauge");
  readonly rateLimited = new Counter("switchboard_rate_limit_rejections_total", "Frames rejected by the per-connection rate limit");
  readonly errors = new Counter("switchboard_errors_total", "Errors sent to clients and HTTP callers, by code");
  readonly backpressureCloses = new Counter("switchboard_backpressure_closes_total", "Connections closed because they could not keep up");
  readonly eventLoopLag = new Counter("switchboard_event_loop_lag_seconds", "Event-loop lag measured by a timer", "gauge");
  readonly httpRequests = new Counter("switchboard_http_requests_total", "HTTP API requests, by route and status");
  readonly engineUp = new Counter("switchboard_engine_up", "1 when the engine accepts publications", "gauge");
  readonly storeUp = new Counter("switchboard_store_up", "1 when the record store (SQLite or PostgreSQL) accepts writes", "gauge");
  readonly socketio = new Counter("switchboard_socketio_connections", "Open Socket.IO (Engine.IO) connections on this node, by transport", "gauge");
  readonly draining = new Counter("switchboard_draining", "1 while the node drains (after SIGTERM); it exits within DRAIN_DEADLINE_MS", "gauge");
  /** Features' own metric sets, rendered after the core ones. */
  readonly extra: { render(): string }[] = [];
  readonly externalApiState = new Counter("switchboard_external_api_circuit_state", "Circuit breaker per external endpoint on this node: 0 closed, 1 half-open, 2 open", "gauge");
  readonly externalApiFailures = new Counter("switchboard_external_api_failures_total", "Failed calls per external endpoint on this node (errors, timeouts, non-2xx answers)");
  readonly jobs = new Counter("switchboard_jobs", "Jobs in the cluster's queue by kind and stat (waiting, delayed, active, paused; completed, failed, dead runs of the jobs still stored), refreshed every second", "gauge");
  readonly jobRuns = new Counter("switchboard_job_runs_total", "Job runs finished on this node by kind and outcome (completed, retried, dead, skipped)");

  render(): string {
    return [
      this.connections,
      this.connects,
      this.disconnects,
      this.authFailures,
      this.messagesIn,
      this.messagesOut,
      this.publishes,
      this.publishLatency,
      this.subscriptions,
      this.channels,
      this.rateLimited,
      this.errors,
      this.backpressureCloses,
      this.eventLoopLag,
      this.httpRequests,
      this.engineUp,
      this.storeUp,
      this.socketio,
      this.draining,
      this.jobs,
      this.jobRuns,
      this.externalApiState,
      this.externalApiFailures,
    ]
      .map((m) => m.render())
      .join("") + this.extra.map((m) => m.render()).join("");
  }
}

import type { Engine, EngineSink } from "../engine/engine.ts";
import type { HealthCheck } from "./health.ts";
import type { Metrics } from "./metrics.ts";

/**
 * Per-node figures for the admin dashboard, shared across the cluster
 * through the engine's presence: every node keeps one presence member, its
 * latest figures as `info`, under a key no client channel can have (client
 * channels always contain `:`). A node that dies stops renewing its lease
 * and drops out within two presence heartbeats, like any presence member.
 */
export const NODES_KEY = "switchboard-admin/nodes";
const SAMPLE_MS = 1000;
const TOP_CHANNELS = 10;

/**
 * Publications delivered to this node's subscribers, per channel key, since
 * the last sample. Wraps the engine's sink only while the dashboard is on, so
 * a node without it pays nothing per message.
 */
export class ChannelRates {
  private counts = new Map<string, number>();

  wrap(sink: EngineSink): EngineSink {
    return {
      deliver: (key, frame) => {
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
        sink.deliver(key, frame);
      },
      hasSubscribers: (key) => sink.hasSubscribers(key),
      control: (msg) => sink.control(msg),
      availability: (up, reason) => sink.availability(up, reason),
    };
  }

  /** The busiest channels since the last call, per second, and a fresh count. */
  take(seconds: number): { tenant: string; ch: string; perSec: number }[] {
    const counts = this.counts;
    this.counts = new Map();
    return [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP_CHANNELS)
      .map(([key, n]) => {
        const slash = key.indexOf("/");
        return { tenant: key.slice(0, slash), ch: key.slice(slash + 1), perSec: Math.round(n / seconds) };
      });
  }
}

export interface NodeFigures {
  node: string;
  version: string;
  at: number;
  uptimeSec: number;
  status: string;
  draining: boolean;
  connections: number;
  subscriptions: number;
  channels: number;
  messagesInPerSec: number;
  messagesOutPerSec: number;
  publishesPerSec: number;
  /** Upper bucket bounds (seconds) holding the interval's p50 and p99 publish latency; null without publishes. */
  publishP50: number | null;
  publishP99: number | null;
  /** Busiest channels on this node: publications per second reaching its subscribers. */
  topChannels: { tenant: string; ch: string; perSec: number }[];
  components: Record<string, string>;
}

function quantile(buckets: number[], counts: number[], total: number, q: number): number | null {
  if (total === 0) return null;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= q * total) return buckets[i]!;
  }
  return Number.POSITIVE_INFINITY;
}

export class NodeStats {
  private timer: Timer | undefined;
  private last = { at: performance.now(), in: 0, out: 0, pubs: 0, hist: { counts: [] as number[], count: 0 } };
  latest: NodeFigures | undefined;

  constructor(
    private readonly d: { nodeId: string; version: string; metrics: Metrics; health: HealthCheck; engine: () => Engine; rates: ChannelRates },
  ) {}

  start(): void {
    this.last = { at: performance.now(), in: this.d.metrics.messagesIn.total(), out: this.d.metrics.messagesOut.total(), pubs: this.d.metrics.publishes.total(), hist: this.d.metrics.publishLatency.snapshot() };
    this.timer = setInterval(() => void this.sample(), SAMPLE_MS);
    this.timer.unref();
    void this.sample();
  }

  /** Stops sampling and leaves the cluster's node list (a drain), instead of waiting for the lease to lapse. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.d.engine().presenceRemove(NODES_KEY, `admin.${this.d.nodeId}`).catch(() => false);
  }

  private async sample(): Promise<void> {
    const m = this.d.metrics;
    const now = performance.now();
    const dt = Math.max(0.001, (now - this.last.at) / 1000);
    const inTotal = m.messagesIn.total();
    const outTotal = m.messagesOut.total();
    const pubs = m.publishes.total();
    const hist = m.publishLatency.snapshot();
    const delta = hist.counts.map((c, i) => c - (this.last.hist.counts[i] ?? 0));
    const n = hist.count - this.last.hist.count;
    const report = this.d.health.report();
    const figures: NodeFigures = {
      node: this.d.nodeId,
      version: this.d.version,
      at: Date.now(),
      uptimeSec: report.uptimeSec,
      status: report.status,
      draining: this.d.health.draining(),
      connections: m.connections.get(),
      subscriptions: m.subscriptions.get(),
      channels: this.d.health.engineChannels(),
      messagesInPerSec: Math.round((inTotal - this.last.in) / dt),
      messagesOutPerSec: Math.round((outTotal - this.last.out) / dt),
      publishesPerSec: Math.round((pubs - this.last.pubs) / dt),
      publishP50: quantile(m.publishLatency.buckets, delta, n, 0.5),
      publishP99: quantile(m.publishLatency.buckets, delta, n, 0.99),
      topChannels: this.d.rates.take(dt),
      components: Object.fromEntries(Object.entries(report.components).map(([k, c]) => [k, c.status])),
    };
    this.last = { at: now, in: inTotal, out: outTotal, pubs, hist };
    this.latest = figures;
    // Best effort: while the engine is down the dashboard shows this node from its own figures.
    await this.d.engine().presenceAdd(NODES_KEY, { user: this.d.nodeId, conn: `admin.${this.d.nodeId}`, info: figures }).catch(() => {});
  }

  /** Every live node's latest figures (this node's own even when the engine cannot answer), sorted by node. */
  async cluster(): Promise<NodeFigures[]> {
    const entries = await this.d.engine().presence(NODES_KEY).catch(() => []);
    const byNode = new Map<string, NodeFigures>();
    for (const e of entries) if (e.info && typeof e.info === "object") byNode.set(e.user, e.info as NodeFigures);
    if (this.latest) byNode.set(this.d.nodeId, this.latest);
    return [...byNode.values()].sort((a, b) => a.node.localeCompare(b.node));
  }
}

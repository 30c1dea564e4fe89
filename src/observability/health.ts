import type { Engine } from "../engine/engine.ts";
import type { Hub } from "../hub/hub.ts";
import type { Store } from "../store/ports.ts";
import type { LoopLagMonitor } from "./loop-lag.ts";

export type ComponentStatus = "ok" | "degraded" | "down";

/** A component report another part of the node adds to /health (jobQueue, externalAPIs). */
export type ComponentReport = () => { status: ComponentStatus; [detail: string]: unknown };

export interface HealthReport {
  status: ComponentStatus;
  node: string;
  uptimeSec: number;
  components: Record<string, { status: ComponentStatus; [detail: string]: unknown }>;
}

/** Readiness and the component report behind /health. */
export class HealthCheck {
  private readonly startedAt = Date.now();

  constructor(
    private readonly hub: Hub,
    private readonly engine: Engine,
    private readonly lag: LoopLagMonitor,
    private readonly store?: Store,
    private readonly extra: Readonly<Record<string, ComponentReport>> = {},
  ) {}

  engineChannels(): number {
    return this.engine.health().channels;
  }

  draining(): boolean {
    return this.hub.draining;
  }

  /** Null when ready; otherwise why not. */
  notReadyReason(): string | null {
    if (this.hub.draining) return "draining";
    if (!this.hub.engineUp) return `engine unavailable: ${this.hub.engineReason}`;
    const records = this.store?.health();
    if (records && !records.up) return `record store unavailable: ${records.detail}`;
    return null;
  }

  report(): HealthReport {
    const e = this.engine.health();
    const lagStatus: ComponentStatus = this.lag.lastMs > 1000 ? "down" : this.lag.lastMs > 100 ? "degraded" : "ok";
    const components: HealthReport["components"] = {
      engine: { ...e, status: e.up && this.hub.engineUp ? "ok" : "down", kind: this.engine.kind, reason: this.hub.engineReason },
      websocket: { status: this.hub.draining ? "down" : "ok", connections: this.hub.conns.size, draining: this.hub.draining },
      ...(this.store ? { store: { ...this.store.health(), status: this.store.health().up ? ("ok" as const) : ("down" as const), kind: this.store.kind } } : {}),
      eventLoop: { status: lagStatus, lagMs: Math.round(this.lag.lastMs * 10) / 10, maxLagMs: Math.round(this.lag.maxMs * 10) / 10 },
    };
    for (const [name, report] of Object.entries(this.extra)) components[name] = report();
    const all = Object.values(components).map((c) => c.status);
    const status: ComponentStatus = all.includes("down") ? "down" : all.includes("degraded") ? "degraded" : "ok";
    return { status, node: this.hub.deps.config.nodeId, uptimeSec: Math.round((Date.now() - this.startedAt) / 1000), components };
  }
}

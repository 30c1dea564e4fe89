import type { ConnData } from "../hub/ports.ts";
import { SwitchboardError } from "../protocol/errors.ts";

export interface IpAdmissionOptions {
  /** WebSocket upgrades per second per client IP (bucket of 10× that); 0 = no limit. */
  upgradesPerSec: number;
  /** Sockets per client IP that have not authenticated yet; 0 = no limit. */
  maxUnauthenticated: number;
  now: () => number;
}

/** Above this many tracked IPs the tables are reset: a flood of spoofed sources must not grow them without end. */
const MAX_TRACKED_IPS = 100_000;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Per-IP admission at the upgrade: a token bucket of upgrades and a cap on
 * sockets still waiting to authenticate. Behind a proxy every client shares
 * its address, so the limits are settings an operator can raise or turn off.
 */
export class IpAdmission {
  private readonly buckets = new Map<string, Bucket>();
  /** Sockets that opened without a token, per IP; authenticated ones are pruned when the cap is reached. */
  private readonly waiting = new Map<string, Set<ConnData>>();
  private readonly ipOf = new Map<ConnData, string>();
  private readonly burst: number;

  constructor(private readonly opts: IpAdmissionOptions) {
    this.burst = opts.upgradesPerSec * 10;
  }

  /** False when both limits are off: nothing needs the client's address then. */
  get active(): boolean {
    return this.opts.upgradesPerSec > 0 || this.opts.maxUnauthenticated > 0;
  }

  /** Why an upgrade from `ip` is refused now, or undefined; takes one upgrade token when allowed. */
  check(ip: string, authenticated: boolean): SwitchboardError | undefined {
    if (this.opts.upgradesPerSec > 0 && !this.takeUpgrade(ip)) {
      return new SwitchboardError("RATE_LIMIT_EXCEEDED", "too many connection attempts from this address", { retryAfter: Math.ceil(1000 / this.opts.upgradesPerSec) });
    }
    const max = this.opts.maxUnauthenticated;
    if (authenticated || max <= 0) return undefined;
    const set = this.waiting.get(ip);
    if (set && set.size >= max) {
      for (const d of set) if (d.principal !== undefined) this.forget(d);
      if (set.size >= max) return new SwitchboardError("LIMIT_EXCEEDED", `at most ${max} unauthenticated connections per address`);
    }
    return undefined;
  }

  /** Records an admitted socket that still has to authenticate. */
  waitingFor(ip: string, d: ConnData): void {
    if (this.opts.maxUnauthenticated <= 0) return;
    if (this.ipOf.size >= MAX_TRACKED_IPS * 4) this.reset();
    let set = this.waiting.get(ip);
    if (!set) this.waiting.set(ip, (set = new Set()));
    set.add(d);
    this.ipOf.set(d, ip);
  }

  closed(d: ConnData): void {
    if (this.ipOf.has(d)) this.forget(d);
  }

  private forget(d: ConnData): void {
    const ip = this.ipOf.get(d)!;
    this.ipOf.delete(d);
    const set = this.waiting.get(ip);
    if (!set) return;
    set.delete(d);
    if (set.size === 0) this.waiting.delete(ip);
  }

  private takeUpgrade(ip: string): boolean {
    const now = this.opts.now();
    let b = this.buckets.get(ip);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED_IPS) this.buckets.clear();
      this.buckets.set(ip, (b = { tokens: this.burst, at: now }));
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.opts.upgradesPerSec) / 1000);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }

  private reset(): void {
    this.waiting.clear();
    this.ipOf.clear();
  }
}

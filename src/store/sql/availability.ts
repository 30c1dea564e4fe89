import { SwitchboardError } from "../../protocol/errors.ts";
import type { SqlDriver } from "./driver.ts";

/** How often a store without a heartbeat (SQLite) probes while it is down. */
const RECOVERY_PROBE_MS = 1000;

/**
 * Whether the database answers: a failure that means "unreachable" marks it
 * down at once, a heartbeat ping brings it back up. While down, writes are
 * refused before they are queued, so nothing is acknowledged that was not
 * committed, and the caller learns it at once. A database without a
 * heartbeat (SQLite: no network) probes only while it is down, every
 * RECOVERY_PROBE_MS, and is up again after the first probe that succeeds:
 * nothing else could bring it back, since writes are refused while down.
 */
export class StoreAvailability {
  up = false;
  reason = "starting";
  private readonly listeners: ((up: boolean, reason: string) => void)[] = [];
  private timer: Timer | undefined;
  private recovery: Timer | undefined;
  private stopped = false;

  constructor(
    private readonly driver: SqlDriver,
    private readonly timeoutMs: number,
    private readonly heartbeatMs: number,
  ) {}

  onChange(listener: (up: boolean, reason: string) => void): void {
    this.listeners.push(listener);
  }

  set(up: boolean, reason: string): void {
    if (up === this.up && reason === this.reason) return;
    const changed = up !== this.up;
    this.up = up;
    this.reason = reason;
    if (changed) for (const l of this.listeners) l(up, reason);
  }

  /** Starts the heartbeat (only databases behind a network need one). */
  watch(): void {
    if (this.timer || this.heartbeatMs <= 0) return;
    this.timer = setInterval(() => void this.beat(), this.heartbeatMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    clearInterval(this.recovery);
    this.recovery = undefined;
  }

  /** Marked down by a failure: without a heartbeat, probe until the database answers again. */
  private down(reason: string): void {
    this.set(false, reason);
    if (this.heartbeatMs > 0 || this.recovery || this.stopped) return;
    this.recovery = setInterval(async () => {
      try {
        await this.bounded(this.driver.ping());
      } catch {
        return;
      }
      clearInterval(this.recovery);
      this.recovery = undefined;
      if (!this.stopped) this.set(true, "ready");
    }, RECOVERY_PROBE_MS);
    this.recovery.unref();
  }

  private async beat(): Promise<void> {
    try {
      await this.bounded(this.driver.ping());
      this.set(true, "ready");
    } catch (err) {
      this.set(false, `${this.driver.kind} unreachable: ${describeError(err)}`);
    }
  }

  /** Refuses a write while the database is known to be down. */
  assertUp(): void {
    if (!this.up) throw new SwitchboardError("SERVICE_UNAVAILABLE", `record store unavailable (${this.reason}); nothing was stored`);
  }

  /** Runs `p` with the timeout; an unreachable database becomes SERVICE_UNAVAILABLE and marks the store down. */
  async guard<T>(p: Promise<T>): Promise<T> {
    try {
      return await this.bounded(p);
    } catch (err) {
      if (err instanceof SwitchboardError) throw err;
      if (err instanceof StoreTimeout || this.driver.isUnavailable(err)) {
        this.down(`${this.driver.kind} unreachable: ${describeError(err)}`);
        throw new SwitchboardError("SERVICE_UNAVAILABLE", "record store unavailable; nothing was stored", { cause: err });
      }
      throw err;
    }
  }

  /**
   * `guard` for background polls (job claims, outbox claims, statistics): a
   * failure is reported to the caller but does not mark the store down. Right
   * after an outage their queries meet the pool's dead connections first; only
   * the heartbeat and user-facing requests decide availability.
   */
  async quiet<T>(p: Promise<T>): Promise<T> {
    try {
      return await this.bounded(p);
    } catch (err) {
      if (err instanceof SwitchboardError) throw err;
      if (err instanceof StoreTimeout || this.driver.isUnavailable(err)) throw new SwitchboardError("SERVICE_UNAVAILABLE", "record store unavailable", { cause: err });
      throw err;
    }
  }

  /** `p` with the store's timeout; none when timeoutMs is 0 (SQLite: a write either commits or throws). */
  private bounded<T>(p: Promise<T>): Promise<T> {
    if (this.timeoutMs <= 0) return p;
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreTimeout(this.timeoutMs)), this.timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}

class StoreTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return (e?.code ? e.code + " " : "") + String(e?.message ?? err).slice(0, 120);
}

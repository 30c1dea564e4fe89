import type { ControlMessage, EngineSink } from "../../src/engine/engine.ts";

interface Waiter {
  pred: () => boolean;
  resolve: () => void;
}

/** An EngineSink that records everything and lets tests await conditions instead of sleeping. */
export class RecordingSink implements EngineSink {
  readonly delivered: { key: string; frame: string }[] = [];
  readonly controls: ControlMessage[] = [];
  readonly availabilityChanges: { up: boolean; reason: string }[] = [];
  /** Keys with "local subscribers"; null = every key. */
  subscribed: Set<string> | null = null;
  private waiters: Waiter[] = [];

  deliver(key: string, frame: string): void {
    this.delivered.push({ key, frame });
    this.wake();
  }

  hasSubscribers(key: string): boolean {
    return this.subscribed === null || this.subscribed.has(key);
  }

  control(msg: ControlMessage): void {
    this.controls.push(msg);
    this.wake();
  }

  availability(up: boolean, reason: string): void {
    this.availabilityChanges.push({ up, reason });
    this.wake();
  }

  /** Frames delivered for `key`, parsed. */
  frames(key: string): Record<string, any>[] {
    return this.delivered.filter((d) => d.key === key).map((d) => JSON.parse(d.frame));
  }

  until(pred: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter: Waiter = {
        pred,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred()) return true;
      w.resolve();
      return false;
    });
  }
}

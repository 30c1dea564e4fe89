/**
 * Coordinator side of the load workers (`bench/load/worker.ts`): start one
 * with a job, send it commands, await its events. A worker `error` event or
 * an unexpected exit rejects whoever is waiting, with the worker's output.
 */
import type { Job } from "../load/jobs.ts";
import { BUN, spawnTracked, type Tracked } from "./procs.ts";

export class LoadWorker {
  private events: Record<string, any>[] = [];
  private waiting: { ev: string; resolve: (r: Record<string, any>) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  private constructor(readonly t: Tracked) {
    t.onLine = (rec) => this.onEvent(rec);
    t.proc.exited.then((code) => {
      if (this.waiting) this.fail(new Error(`${t.name} exited with ${code}:\n${t.tail.join("\n")}`));
    });
  }

  static start(name: string, job: Job): LoadWorker {
    const t = spawnTracked(name, [BUN, "bench/load/worker.ts"]);
    const w = new LoadWorker(t);
    w.send(job as unknown as Record<string, unknown>);
    return w;
  }

  get pid(): number {
    return this.t.pid;
  }

  send(msg: Record<string, unknown>): void {
    this.t.proc.stdin.write(JSON.stringify(msg) + "\n");
    this.t.proc.stdin.flush();
  }

  private onEvent(rec: Record<string, any>): void {
    if (rec.ev === "error") {
      this.fail(new Error(`${this.t.name}: ${rec.message}`));
      return;
    }
    this.events.push(rec);
    const w = this.waiting;
    if (w && rec.ev === w.ev) {
      this.waiting = null;
      this.events.splice(this.events.indexOf(rec), 1);
      w.resolve(rec);
    }
  }

  private fail(e: Error): void {
    this.failure = e;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(e);
  }

  waitFor(ev: string, timeoutMs = 60_000): Promise<Record<string, any>> {
    if (this.failure) return Promise.reject(this.failure);
    const i = this.events.findIndex((r) => r.ev === ev);
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`${this.t.name}: no '${ev}' within ${timeoutMs} ms; output:\n${this.t.tail.join("\n")}`));
      }, timeoutMs);
      this.waiting = {
        ev,
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
  }

  async stop(): Promise<void> {
    try {
      this.t.proc.stdin.end();
    } catch {
      // already closed
    }
    const timer = setTimeout(() => this.t.proc.kill("SIGKILL"), 3000);
    await this.t.proc.exited;
    clearTimeout(timer);
  }
}

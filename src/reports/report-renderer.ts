import { SwitchboardError } from "../protocol/errors.ts";
import type { HistoryReportInput } from "./history-pdf.ts";

type Pending = { resolve: (pdf: Uint8Array) => void; reject: (err: Error) => void };

/**
 * Renders reports in one long-lived worker thread, started on first use.
 * At most `maxQueued` reports wait at once; more are refused with
 * RATE_LIMIT_EXCEEDED instead of piling up memory.
 */
export class ReportRenderer {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(private readonly maxQueued = 4, private readonly timeoutMs = 30_000) {}

  render(input: HistoryReportInput): Promise<Uint8Array> {
    if (this.pending.size >= this.maxQueued) {
      return Promise.reject(new SwitchboardError("RATE_LIMIT_EXCEEDED", "too many reports in progress; retry shortly", { retryAfter: 1000 }));
    }
    const worker = this.start();
    const id = this.nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Uint8Array>();
    const timer = setTimeout(() => {
      this.pending.delete(id);
      reject(new SwitchboardError("SERVICE_UNAVAILABLE", "report rendering timed out"));
    }, this.timeoutMs);
    this.pending.set(id, {
      resolve: (pdf) => (clearTimeout(timer), resolve(pdf)),
      reject: (err) => (clearTimeout(timer), reject(err)),
    });
    worker.postMessage({ id, input });
    return promise;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL("./report-worker.ts", import.meta.url).href);
    // Bun workers can be unref'd so an idle report worker never keeps the process alive.
    (worker as unknown as { unref(): void }).unref();
    worker.onmessage = (e: MessageEvent<{ id: number; pdf?: Uint8Array; error?: string }>) => {
      const p = this.pending.get(e.data.id);
      if (!p) return;
      this.pending.delete(e.data.id);
      if (e.data.pdf) p.resolve(e.data.pdf);
      else p.reject(new SwitchboardError("INTERNAL_ERROR", "report rendering failed", { cause: new Error(e.data.error) }));
    };
    worker.onerror = (e) => {
      for (const p of this.pending.values()) p.reject(new SwitchboardError("INTERNAL_ERROR", "report worker failed", { cause: e }));
      this.pending.clear();
      this.worker = undefined;
    };
    this.worker = worker;
    return worker;
  }

  stop(): void {
    this.worker?.terminate();
    this.worker = undefined;
  }
}

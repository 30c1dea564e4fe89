import type { ErrorCode } from "../protocol/codes.ts";
import { SwitchboardError } from "../protocol/errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { RenderedReport, RenderJob, ReportSource } from "./render-report.ts";
import type { WorkerReply, WorkerRequest } from "./report-worker.ts";
import { startWorker, type WorkerLike } from "../runtime/worker-thread.ts";
import { defaultReportWorkers, reportWorkersWarning } from "./report-workers.ts";

export interface ReportRendererOptions {
  /** Worker threads rendering at once. */
  workers: number;
  /** Reports waiting for a worker; more are refused with RATE_LIMIT_EXCEEDED. */
  queueSize: number;
  /** A render taking longer is abandoned and its worker terminated and replaced. */
  timeoutMs: number;
  maxPages: number;
  maxHeapMb: number;
  /** Largest JSON body, or channel history, a report is made from. */
  maxInputBytes: number;
  logger?: Logger;
}

type Job = ReportSource & {
  id: number;
  template: string;
  resolve: (r: RenderedReport) => void;
  reject: (err: SwitchboardError) => void;
};

interface Slot {
  worker: WorkerLike;
  job: Job | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const DEFAULTS: Omit<ReportRendererOptions, "workers"> = { queueSize: 16, timeoutMs: 30_000, maxPages: 500, maxHeapMb: 512, maxInputBytes: 1024 * 1024 };

/**
 * A pool of report worker threads with a bounded queue. Workers start on
 * first use; one that overruns the time limit is terminated (which stops even
 * a render stuck in a loop) and a fresh one takes its place.
 */
export class ReportRenderer {
  readonly opts: ReportRendererOptions;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private stopped = false;

  constructor(opts: Partial<ReportRendererOptions> = {}) {
    this.opts = { ...DEFAULTS, workers: defaultReportWorkers(), ...opts };
    const tooMany = reportWorkersWarning(this.opts.workers);
    if (tooMany) this.opts.logger?.warn(tooMany, { reportWorkers: this.opts.workers });
  }

  /** Seconds a refused caller should wait: roughly one render per queued report per worker. */
  get retryAfterSec(): number {
    return Math.max(1, Math.ceil(((this.queue.length / this.opts.workers + 1) * Math.min(this.opts.timeoutMs, 5000)) / 1000));
  }

  /** Longest a caller can wait for its PDF: the queue ahead of it plus its own render. */
  get maxWaitMs(): number {
    return (Math.ceil(this.opts.queueSize / this.opts.workers) + 1) * this.opts.timeoutMs;
  }

  /** Renders in a worker; a posted body is parsed and validated there too, so a large input never blocks the event loop. */
  render(template: string, source: ReportSource): Promise<RenderedReport> {
    if (this.stopped) return Promise.reject(new SwitchboardError("SERVICE_UNAVAILABLE", "the server is shutting down"));
    const busy = this.slots.filter((s) => s.job).length;
    if (busy >= this.opts.workers && this.queue.length >= this.opts.queueSize) {
      return Promise.reject(new SwitchboardError("RATE_LIMIT_EXCEEDED", `${this.opts.queueSize} reports are already waiting (REPORT_QUEUE_SIZE); retry shortly`, { retryAfter: this.retryAfterSec * 1000 }));
    }
    const { promise, resolve, reject } = Promise.withResolvers<RenderedReport>();
    this.queue.push({ ...source, id: this.nextId++, template, resolve, reject });
    this.pump();
    return promise;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.job);
      if (!slot) {
        if (this.slots.length >= this.opts.workers) return;
        slot = this.spawn();
      }
      this.run(slot, this.queue.shift()!);
    }
  }

  private spawn(): Slot {
    const worker = startWorker(new URL("./report-worker.ts", import.meta.url));
    // An idle report worker must not keep the process alive.
    worker.unref();
    const slot: Slot = { worker, job: undefined, timer: undefined };
    worker.onmessage = (e: { data: WorkerReply }) => {
      const job = slot.job;
      if (!job || job.id !== e.data.id) return;
      this.settle(slot);
      if ("pdf" in e.data) {
        const { id: _, ...report } = e.data;
        job.resolve(report);
      } else job.reject(new SwitchboardError(e.data.error.code as ErrorCode, e.data.error.message));
      this.pump();
    };
    worker.onerror = (e) => {
      e.preventDefault();
      this.opts.logger?.error("report worker failed; replacing it", { err: e.message });
      this.replace(slot, new SwitchboardError("INTERNAL_ERROR", "report rendering failed"));
    };
    this.slots.push(slot);
    return slot;
  }

  private run(slot: Slot, job: Job): void {
    slot.job = job;
    slot.timer = setTimeout(() => {
      this.opts.logger?.warn("report exceeded its time limit; worker terminated and replaced", { template: job.template, timeoutMs: this.opts.timeoutMs });
      this.replace(slot, new SwitchboardError("SERVICE_UNAVAILABLE", `the report took longer than ${this.opts.timeoutMs} ms to render (REPORT_TIMEOUT_MS) and was stopped; ask for a shorter report`));
    }, this.opts.timeoutMs);
    const source: ReportSource = "body" in job ? { body: job.body } : { input: job.input };
    const request: RenderJob = { ...source, template: job.template, generatedAt: Date.now(), maxPages: this.opts.maxPages };
    slot.worker.postMessage({ id: job.id, job: request, maxHeapMb: this.opts.maxHeapMb } satisfies WorkerRequest);
  }

  private settle(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.job = undefined;
  }

  /** Ends a slot's worker, fails its job, and lets a new worker take the queue. */
  private replace(slot: Slot, err: SwitchboardError): void {
    const job = slot.job;
    this.settle(slot);
    slot.worker.terminate();
    this.slots.splice(this.slots.indexOf(slot), 1);
    job?.reject(err);
    if (!this.stopped) this.pump();
  }

  stop(): void {
    this.stopped = true;
    for (const slot of [...this.slots]) this.replace(slot, new SwitchboardError("SERVICE_UNAVAILABLE", "the server is shutting down"));
    for (const job of this.queue.splice(0)) job.reject(new SwitchboardError("SERVICE_UNAVAILABLE", "the server is shutting down"));
  }
}

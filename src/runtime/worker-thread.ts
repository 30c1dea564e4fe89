/**
 * Worker threads on both runtimes, in the Web Worker shape the report pool
 * was written against: Bun's global Worker, or Node's worker_threads behind
 * a small adapter. `entry` is the worker module's URL under Bun (TypeScript
 * source); under Node the same name with `.js`, beside the bundle (`npm run
 * build:node` builds it there).
 */
import type { Worker as NodeWorker } from "node:worker_threads";

export interface WorkerLike {
  onmessage: ((e: { data: never }) => void) | null;
  onerror: ((e: { message: string; preventDefault(): void }) => void) | null;
  postMessage(message: unknown): void;
  terminate(): void;
  unref(): void;
}

const nodeThreads = typeof Bun === "undefined" ? await import("node:worker_threads") : undefined;

class NodeWorkerAdapter implements WorkerLike {
  onmessage: WorkerLike["onmessage"] = null;
  onerror: WorkerLike["onerror"] = null;
  private readonly w: NodeWorker;

  constructor(file: URL) {
    this.w = new nodeThreads!.Worker(file);
    this.w.on("message", (data: unknown) => this.onmessage?.({ data: data as never }));
    this.w.on("error", (err: Error) => this.onerror?.({ message: err.message, preventDefault() {} }));
  }

  postMessage(message: unknown): void {
    this.w.postMessage(message);
  }

  terminate(): void {
    void this.w.terminate();
  }

  unref(): void {
    this.w.unref();
  }
}

/** Starts the worker module `entry` (a URL ending in .ts, resolved by the caller next to itself). */
export function startWorker(entry: URL): WorkerLike {
  if (!nodeThreads) return new Worker(entry.href) as unknown as WorkerLike;
  return new NodeWorkerAdapter(new URL(entry.href.replace(/\.ts$/, ".js")));
}

/**
 * The worker side: the port to the parent thread (`self` on Bun, parentPort
 * on Node), the worker's own heap size and a full collection.
 */
export interface WorkerSide {
  onMessage(handler: (data: never) => void): void;
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  heapBytes(): number;
  collect(): void;
}

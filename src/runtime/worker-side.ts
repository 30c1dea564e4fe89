/// <reference lib="webworker" />
import type { WorkerSide } from "./worker-thread.ts";

/** Inside a worker thread (see worker-thread.ts): Bun's `self` and bun:jsc, or Node's parentPort and v8. Imported only by worker modules. */
async function workerSide(): Promise<WorkerSide> {
  if (typeof Bun !== "undefined") {
    const { heapStats } = await import("bun:jsc");
    const self = globalThis as unknown as Worker;
    return {
      onMessage: (h) => {
        self.onmessage = (e: MessageEvent) => h(e.data as never);
      },
      postMessage: (m, transfer = []) => self.postMessage(m, transfer),
      heapBytes: () => heapStats().heapSize,
      collect: () => Bun.gc(true),
    };
  }
  const { parentPort } = await import("node:worker_threads");
  const { getHeapStatistics } = await import("node:v8");
  return {
    onMessage: (h) => parentPort!.on("message", (d: unknown) => h(d as never)),
    postMessage: (m, transfer = []) => parentPort!.postMessage(m, transfer),
    heapBytes: () => getHeapStatistics().used_heap_size,
    // Only when the process runs with --expose-gc (npm run start:node does; workers inherit it).
    collect: () => (globalThis as { gc?: () => void }).gc?.(),
  };
}

export const side: WorkerSide = await workerSide();

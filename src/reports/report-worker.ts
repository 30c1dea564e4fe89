import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { SwitchboardError } from "../protocol/errors.ts";
import { side } from "../runtime/worker-side.ts";
import { renderReport, type RenderedReport, type RenderJob } from "./render-report.ts";

/** Worker thread: renders reports off the main thread so WebSocket latency does not move while a PDF is built. */

export interface WorkerRequest {
  id: number;
  job: RenderJob;
  maxHeapMb: number;
}

export type WorkerReply = ({ id: number } & RenderedReport) | { id: number; error: { code: string; message: string } };

/**
 * Renders yield the CPU to the event loop thread: on Linux each thread has its
 * own nice value, set through setpriority on the thread id.
 */
function lowerThreadPriority(): void {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isSafeInteger(tid) && tid > 0) setPriority(tid, 10);
  } catch {
    // No /proc/thread-self (not Linux): renders run at the process's priority.
  }
}

lowerThreadPriority();

side.onMessage(async (request: WorkerRequest) => {
  const { id, job, maxHeapMb } = request;
  // Bun's Worker ignores `resourceLimits`, so the worker watches its own heap
  // (its own VM) at every page and gives up before it grows the process.
  const heapMb = () => side.heapBytes() / (1024 * 1024);
  const checkpoint = () => {
    if (heapMb() <= maxHeapMb) return;
    // Garbage of an earlier report (say one refused here) must not fail this one.
    side.collect();
    if (heapMb() > maxHeapMb) throw new SwitchboardError("MESSAGE_TOO_LARGE", `the report needs more than ${maxHeapMb} MB of memory (REPORT_WORKER_MAX_HEAP_MB); ask for fewer rows`);
  };
  try {
    const report = await renderReport(job, checkpoint);
    side.postMessage({ id, ...report } satisfies WorkerReply, [report.pdf.buffer as ArrayBuffer]);
  } catch (err) {
    const error = err instanceof SwitchboardError ? { code: err.code, message: err.message } : { code: "INTERNAL_ERROR", message: err instanceof Error ? err.message : String(err) };
    side.postMessage({ id, error } satisfies WorkerReply);
  }
});

/**
 * A load-generator process. Protocol with the coordinator, one JSON object
 * per line: the first stdin line is the job; later lines are `go`/`stop`
 * commands handed to the job in order. The worker writes events (`ready`,
 * `result`, `error`) to stdout and exits when stdin closes (the coordinator
 * died or is done), so it can never outlive the bench.
 */
import { runJob, type Job } from "./jobs.ts";

const queue: Record<string, any>[] = [];
const waiters: ((v: Record<string, any>) => void)[] = [];
let ended = false;

function emit(ev: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(ev) + "\n");
}

function next(): Promise<Record<string, any>> {
  const v = queue.shift();
  if (v) return Promise.resolve(v);
  if (ended) return Promise.reject(new Error("stdin closed"));
  return new Promise((r) => waiters.push(r));
}

async function readStdin(): Promise<void> {
  for await (const line of console) {
    if (!line.trim()) continue;
    const msg = JSON.parse(line) as Record<string, any>;
    const w = waiters.shift();
    if (w) w(msg);
    else queue.push(msg);
  }
  ended = true;
  process.exit(0);
}

readStdin();
const job = (await next()) as unknown as Job;
try {
  await runJob(job, emit, next);
  emit({ ev: "done" });
} catch (e) {
  emit({ ev: "error", message: (e as Error).stack ?? String(e) });
}

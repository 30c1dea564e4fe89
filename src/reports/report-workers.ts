import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/**
 * Render threads per node. Rendering is CPU-bound, so a render thread that
 * finds no free core takes its time from the event loop: with 8 workers on 2
 * cores the WebSocket pub→ack p99 while 8 large reports rendered was 7.39×
 * idle (loaded box), while 2 workers on those 2 cores kept it at 1.01×
 * (quiet box; issue 12's bound is 1.5×). The default therefore is 2, the
 * count that bound was measured at, and never more than the cores there are.
 */
const MEASURED_WORKERS = 2;

/** CPU cores this process may use: the cgroup CPU quota when there is one (containers), else the cores it may run on. */
export function cpuCores(): number {
  const cores = availableParallelism();
  const quota = cgroupCpuQuota();
  return quota === undefined ? cores : Math.max(1, Math.min(cores, Math.ceil(quota)));
}

/** The quota in cores (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`); undefined = none. */
function cgroupCpuQuota(): number | undefined {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8").trim();
    } catch {
      return undefined; // not a cgroup this process can read
    }
  };
  const v2 = read("/sys/fs/cgroup/cpu.max")?.split(/\s+/);
  if (v2 && v2[0] !== "max") {
    const q = Number(v2[0]) / Number(v2[1]);
    if (q > 0) return q;
  }
  const quotaUs = Number(read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"));
  const periodUs = Number(read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
  return quotaUs > 0 && periodUs > 0 ? quotaUs / periodUs : undefined;
}

/** `REPORT_WORKERS=auto`: 2, or 1 where the process has a single core. */
export function defaultReportWorkers(cores = cpuCores()): number {
  return Math.max(1, Math.min(MEASURED_WORKERS, cores));
}

/** The start-up warning for more render threads than cores; undefined when they fit. */
export function reportWorkersWarning(workers: number, cores = cpuCores()): string | undefined {
  if (workers <= cores) return undefined;
  return `REPORT_WORKERS=${workers} is above the ${cores} CPU core${cores === 1 ? "" : "s"} this process may use: report rendering will take time from the event loop and WebSocket latency will rise while reports render; set REPORT_WORKERS to ${cores} or less (unset = auto)`;
}

/**
 * WORKERS=N runs N server processes, each with its own render pool. With
 * REPORT_WORKERS unset (auto), each process gets its share of the cores
 * (at least 1) instead of 2 each; the answer is the REPORT_WORKERS value the
 * supervisor gives its processes (undefined: the operator set one, keep it),
 * and the warning when the node's render threads still outnumber the cores.
 */
export function supervisedReportWorkers(configured: string | undefined, processes: number, cores = cpuCores()): { perProcess: string | undefined; warning: string | undefined } {
  const auto = configured === undefined || configured.trim() === "" || configured.trim() === "auto";
  const each = auto ? Math.max(1, Math.min(MEASURED_WORKERS, Math.floor(cores / processes))) : Number(configured);
  const total = each * processes;
  const warning =
    Number.isFinite(total) && total > cores
      ? `WORKERS=${processes} processes × REPORT_WORKERS=${each} = ${total} render threads on ${cores} CPU core${cores === 1 ? "" : "s"}: report rendering will take time from the event loops while reports render; lower REPORT_WORKERS or WORKERS`
      : undefined;
  return { perProcess: auto ? String(each) : undefined, warning };
}

import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { Counter, Histogram } from "./metrics.ts";

/** Bytes of JS heap in use: JavaScriptCore's own count on Bun, V8's on Node (a runtime seam; only one module loads). */
const heapSize: () => number = typeof Bun !== "undefined" ? (await import("bun:jsc")).heapSize : () => process.memoryUsage().heapUsed;

/**
 * Process figures in the names Prometheus' own client libraries use
 * (process_*), so stock dashboards and alerts work, plus the JS heap and an
 * event-loop delay histogram. Everything is read when /metrics is scraped,
 * except the loop delay, which a 20 ms timer samples: a stall shows up as
 * that timer firing late.
 *
 * GC pauses: JavaScriptCore's own collections are not observable from
 * JavaScript in Bun (no `gc` performance entries); they appear as event-loop
 * delay. The collections Switchboard forces after a connect burst are timed
 * (switchboard_forced_gc_seconds).
 */
const LOOP_SAMPLE_MS = 20;

function maxFds(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? (m[1] === "unlimited" ? -1 : Number(m[1])) : -1;
  } catch {
    return -1;
  }
}

export class ProcessMetrics {
  readonly cpuUser = new Counter("process_cpu_user_seconds_total", "User CPU time spent by the process", "counter");
  readonly cpuSystem = new Counter("process_cpu_system_seconds_total", "System CPU time spent by the process", "counter");
  readonly cpu = new Counter("process_cpu_seconds_total", "User and system CPU time spent by the process", "counter");
  readonly rss = new Counter("process_resident_memory_bytes", "Resident memory of the process", "gauge");
  readonly heapUsed = new Counter("process_heap_bytes", "JavaScript heap in use (JavaScriptCore heap size)", "gauge");
  readonly heapTotal = new Counter("switchboard_js_heap_total_bytes", "JavaScript heap committed by the allocator", "gauge");
  readonly openFds = new Counter("process_open_fds", "Open file descriptors (sockets, files)", "gauge");
  readonly maxFdsGauge = new Counter("process_max_fds", "Soft limit on open file descriptors (ulimit -n, LimitNOFILE)", "gauge");
  readonly startTime = new Counter("process_start_time_seconds", "Start time of the process, seconds since the epoch", "gauge");
  readonly loopDelay = new Histogram("switchboard_event_loop_delay_seconds", `How late a ${LOOP_SAMPLE_MS} ms timer fires: time the event loop was blocked`, [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
  ]);
  readonly forcedGc = new Histogram("switchboard_forced_gc_seconds", "Pauses of the collections forced after a connect burst", [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]);
  private timer: Timer | undefined;

  constructor() {
    this.startTime.set(Math.round((Date.now() - performance.now()) / 1000));
  }

  start(): void {
    let expected = performance.now() + LOOP_SAMPLE_MS;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.loopDelay.observe(Math.max(0, now - expected) / 1000);
      expected = now + LOOP_SAMPLE_MS;
    }, LOOP_SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async render(): Promise<string> {
    const cpu = process.cpuUsage();
    this.cpuUser.set(cpu.user / 1e6);
    this.cpuSystem.set(cpu.system / 1e6);
    this.cpu.set((cpu.user + cpu.system) / 1e6);
    const mem = process.memoryUsage();
    this.rss.set(mem.rss);
    this.heapUsed.set(heapSize());
    this.heapTotal.set(mem.heapTotal);
    this.maxFdsGauge.set(maxFds());
    // Listed off the event loop: with a million sockets the directory is large.
    this.openFds.set(await readdir("/proc/self/fd").then((l) => l.length, () => -1));
    return [this.cpuUser, this.cpuSystem, this.cpu, this.rss, this.heapUsed, this.heapTotal, this.openFds, this.maxFdsGauge, this.startTime, this.loopDelay, this.forcedGc]
      .map((m) => m.render())
      .join("");
  }
}

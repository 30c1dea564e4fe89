/**
 * Preloaded into Switchboard (`bun --preload`) by the bench: if the bench
 * process disappears without cleaning up (kill -9), SIGTERM ourselves so the
 * server drains and exits instead of lingering.
 */
const ppid = Number(process.env.BENCH_PARENT_PID ?? 0);
if (ppid > 0) {
  setInterval(() => {
    try {
      process.kill(ppid, 0);
    } catch {
      process.kill(process.pid, "SIGTERM");
    }
  }, 1000).unref();
}

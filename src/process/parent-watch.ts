/**
 * Wrappers that start the server as a child (`npx switchboard`, a shell
 * script without `exec`, npm on some platforms) may die on SIGTERM without
 * passing it on, leaving the server orphaned and still "ready" while the
 * orchestrator believes it stopped. When the parent changes, the server was
 * orphaned: drain as if signalled. A server started by PID 1 (a container,
 * systemd) or with no parent to lose has nothing to watch.
 */
export function watchParent(onOrphaned: (formerParent: number) => void, intervalMs = 500): () => void {
  const parent = process.ppid;
  if (parent <= 1) return () => {};
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onOrphaned(parent);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

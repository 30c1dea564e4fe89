import { readFileSync } from "node:fs";
import { totalmem } from "node:os";

/**
 * Memory reserved per WebSocket connection when the connection cap is sized
 * automatically: ~10× the 3.5 KB an idle connection costs, leaving room for
 * send buffers, kernel socket memory and the frames in flight.
 */
const BYTES_PER_CONNECTION = 32 * 1024;

/** The memory this process may use: the cgroup limit when there is one (containers), else the machine's. */
export function memoryLimitBytes(): number {
  const total = totalmem();
  for (const path of ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]) {
    try {
      const text = readFileSync(path, "utf8").trim();
      const n = Number(text);
      if (text !== "max" && Number.isFinite(n) && n > 0) return Math.min(total, n);
    } catch {
      // Not a cgroup this process can read: the machine's memory it is.
    }
  }
  return total;
}

/** Default per-node connection cap (`WS_MAX_GLOBAL_CONNECTIONS=auto`): half the memory limit at BYTES_PER_CONNECTION each. */
export function autoConnectionCap(limitBytes = memoryLimitBytes()): number {
  return Math.max(1000, Math.floor(limitBytes / 2 / BYTES_PER_CONNECTION));
}

import type { Config } from "../config/load.ts";

/**
 * What the Node build (uWebSockets.js transport) does not run yet, as the
 * one-line reason it refuses to start with such a configuration (undefined
 * when the configuration is fine). Refused rather than half-working: each
 * needs a Bun-only API that has no Node seam yet.
 */
export function nodeUnsupported(config: Config): string | undefined {
  const why = (what: string, instead: string) => `${what} is not supported on Node.js yet (it needs Bun); ${instead}, or run the server with Bun (npm start)`;
  if (config.workers > 1) return why("WORKERS > 1 (the process supervisor)", "run one Node process per node (each on its own PORT) behind the balancer");
  // The uWebSockets.js build used here cannot share a port between processes (no SO_REUSEPORT).
  if (config.reusePort) return why("REUSE_PORT=true", "give each Node process its own PORT");
  return undefined;
}

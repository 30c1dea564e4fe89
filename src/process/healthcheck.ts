/**
 * `switchboard healthcheck`: the container HEALTHCHECK. Asks the node in this
 * container for /health/live (liveness, not readiness: a node that is draining
 * or has lost Redis must not be restarted for it) and exits 0 or 1. Reads the
 * same HOST/PORT/TLS settings as the server, so it needs no arguments.
 */
export {};

const env = process.env;
const host = !env.HOST || env.HOST === "0.0.0.0" || env.HOST === "::" ? "127.0.0.1" : env.HOST;
const scheme = env.TLS_CERT_FILE ? "https" : "http";
const url = `${scheme}://${host.includes(":") ? `[${host}]` : host}:${env.PORT || "8080"}/health/live`;
try {
  // The node's own certificate is for its public name, not for 127.0.0.1.
  const res = await fetch(url, { signal: AbortSignal.timeout(2500), tls: { rejectUnauthorized: false } } as RequestInit);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  process.stderr.write(`healthcheck: ${url}: ${(err as Error).message}\n`);
  process.exit(1);
}

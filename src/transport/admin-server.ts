import type { Hono } from "hono";
import type { Logger } from "../observability/logger.ts";
import type { Transport, TransportServer } from "./port.ts";

/**
 * ADMIN_PORT: a second listener, meant to stay inside the network, with
 * /metrics, /health/* and the server API. The public port then no longer
 * answers /metrics. Plain HTTP: put it on an internal interface (ADMIN_HOST).
 */
export function serveAdmin(opts: { host: string; port: number; app: Hono; logger: Logger; transport: Transport }): TransportServer<undefined> {
  const server = opts.transport.serve<undefined>({
    hostname: opts.host,
    port: opts.port,
    reusePort: false,
    // Bun.serve's default.
    maxRequestBodySize: 128 * 1024 * 1024,
    fetch: (req, srv) => opts.app.fetch(req, { server: srv }),
    error(err) {
      opts.logger.error("unhandled admin server error", { err });
      return new Response("internal error", { status: 500 });
    },
  });
  opts.logger.info("admin listening", { port: server.port, host: opts.host });
  return server;
}

import type { Server } from "bun";
import type { Hono } from "hono";
import type { Logger } from "../observability/logger.ts";

/**
 * ADMIN_PORT: a second listener, meant to stay inside the network, with
 * /metrics, /health/* and the server API. The public port then no longer
 * answers /metrics. Plain HTTP: put it on an internal interface (ADMIN_HOST).
 */
export function serveAdmin(opts: { host: string; port: number; app: Hono; logger: Logger }): Server<undefined> {
  const server = Bun.serve({
    hostname: opts.host,
    port: opts.port,
    fetch: (req, srv) => opts.app.fetch(req, { server: srv }),
    error(err) {
      opts.logger.error("unhandled admin server error", { err });
      return new Response("internal error", { status: 500 });
    },
  });
  opts.logger.info("admin listening", { port: server.port, host: opts.host });
  return server;
}

import type { PgClient, PgOptions } from "./pg-client.ts";

// Its own module: the two clients import pg-client.ts, and a cycle through this top-level await would never settle.
/** A pool on `url` (`postgres://…`): Bun.SQL on Bun, node-postgres on Node; only the running runtime's module is loaded. */
export const openPg: (url: string, options: PgOptions) => PgClient =
  typeof Bun !== "undefined" ? (await import("./bun-pg.ts")).openBunPg : (await import("./node-pg.ts")).openNodePg;

import type { Server, WebSocketHandler } from "bun";
import type { ServeOptions, Transport, TransportServer } from "./port.ts";

/** The transport port on Bun: Bun.serve, whose shapes the port copies (so this is a pass-through). */
export const bunTransport: Transport = {
  name: "bun",
  serve<D>(o: ServeOptions<D>): TransportServer<D> {
    const tls = o.tls ? { cert: Bun.file(o.tls.certFile), key: Bun.file(o.tls.keyFile) } : undefined;
    const server: Server<D> = Bun.serve<D>({
      // Bun's option types want `websocket` present or absent by overload; the port has it optional.
      hostname: o.hostname,
      port: o.port,
      reusePort: o.reusePort,
      ...(tls ? { tls } : {}),
      maxRequestBodySize: o.maxRequestBodySize,
      fetch: (req, srv) => o.fetch(req, srv as unknown as TransportServer<D>),
      // A ServerWebSocket is a TransportSocket (the port was cut from it).
      websocket: o.websocket as unknown as WebSocketHandler<D>,
      error: (err) => o.error(err),
    } as Parameters<typeof Bun.serve<D>>[0]);
    return server as unknown as TransportServer<D>;
  },
  collectGarbage(): void {
    Bun.gc(true);
    // Hand the freed pages back too (-0.25 KB resident per connection measured
    // at 15,000). Deprecated in bun-types, hence the guard.
    const shrink = (Bun as { shrink?: () => void }).shrink;
    if (typeof shrink === "function") shrink();
  },
};

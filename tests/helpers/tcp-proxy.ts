import type { Socket, TCPSocketListener } from "bun";

interface Side {
  upstream: Socket<unknown> | undefined;
  pending: Uint8Array[];
}

/**
 * A TCP forwarder on 127.0.0.1, a stand-in for a load balancer: each new
 * connection goes to the port `target()` names at that moment; open
 * connections stay with the server they reached, as behind a real balancer.
 */
export function tcpProxy(target: () => number): { port: number; stop(): void } {
  const listener: TCPSocketListener<Side> = Bun.listen<Side>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        client.data = { upstream: undefined, pending: [] };
        Bun.connect({
          hostname: "127.0.0.1",
          port: target(),
          socket: {
            open(up) {
              client.data.upstream = up;
              for (const chunk of client.data.pending.splice(0)) up.write(chunk);
            },
            data(_up, chunk) {
              client.write(chunk);
            },
            close() {
              client.end();
            },
            error() {
              client.end();
            },
          },
        }).catch(() => client.end());
      },
      data(client, chunk) {
        if (client.data.upstream) client.data.upstream.write(chunk);
        else client.data.pending.push(new Uint8Array(chunk));
      },
      close(client) {
        client.data.upstream?.end();
      },
      error(client) {
        client.data.upstream?.end();
      },
    },
  });
  return { port: listener.port, stop: () => listener.stop(true) };
}

import type { Socket as TcpSocket, TCPSocketListener } from "bun";

/** One proxied connection, as the proxy's hooks see it: the client's socket carries its peer (the target). */
export interface ProxyConn {
  peer?: TcpSocket<unknown>;
  buf: Uint8Array[];
}
export type ProxyClient = TcpSocket<ProxyConn>;

/**
 * A TCP proxy the test controls: forwards to `target`, can cut every open
 * connection (a network loss), refuse new ones while blocked, and switch to
 * another node. Subclasses change what crosses it by overriding `forward`
 * (client → target) and `answer` (target → client).
 */
export class TcpProxy {
  private listener: TCPSocketListener<ProxyConn> | undefined;
  private readonly open = new Set<TcpSocket<unknown>>();
  blocked = false;
  port = 0;

  constructor(public target: number) {}

  start(): this {
    const self = this;
    this.listener = Bun.listen<ProxyConn>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(client) {
          client.data = { buf: [] };
          if (self.blocked) return void client.end();
          self.open.add(client as TcpSocket<unknown>);
          void Bun.connect<{ client: typeof client }>({
            hostname: "127.0.0.1",
            port: self.target,
            data: { client },
            socket: {
              open(peer) {
                client.data.peer = peer as TcpSocket<unknown>;
                self.open.add(peer as TcpSocket<unknown>);
                for (const b of client.data.buf) peer.write(b);
                client.data.buf = [];
              },
              data(peer, chunk) {
                self.answer(peer.data.client, chunk);
              },
              close(peer) {
                self.open.delete(peer as TcpSocket<unknown>);
                peer.data.client.end();
              },
              error(peer) {
                peer.data.client.end();
              },
              connectError() {
                client.end();
              },
            },
          }).catch(() => client.end());
        },
        data(client, chunk) {
          self.forward(client, new Uint8Array(chunk));
        },
        close(client) {
          self.open.delete(client as TcpSocket<unknown>);
          client.data.peer?.end();
        },
      },
    });
    this.port = this.listener.port;
    return this;
  }

  /** Bytes from the client, on their way to the target (buffered until the target connection is open). */
  protected forward(client: ProxyClient, bytes: Uint8Array): void {
    if (client.data.peer) client.data.peer.write(bytes);
    else client.data.buf.push(bytes);
  }

  /** Bytes from the target, on their way back to the client. */
  protected answer(client: ProxyClient, chunk: Uint8Array): void {
    client.write(chunk);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Cuts every open connection at once, as a network loss would. */
  cut(): void {
    for (const s of [...this.open]) s.terminate();
    this.open.clear();
  }

  stop(): void {
    this.cut();
    this.listener?.stop(true);
  }
}


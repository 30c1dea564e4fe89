import type { Socket, TCPSocketListener } from "bun";

/**
 * A TCP proxy in front of Redis that loses traffic in one direction, as a
 * network failing mid-command does: `dropReplies` forwards commands but
 * throws Redis' answers away (Redis performs them, nobody hears it);
 * `holdCommands` keeps commands back instead of forwarding them (kept in
 * `held`, so a test can deliver them late). `stallReaders` holds back the
 * answers on connections that sent XREAD (a node's bus reader falls behind
 * while its command connection works) until `releaseReaders()`. `cut()`
 * ends every connection.
 */
export class LossyProxy {
  dropReplies = false;
  holdCommands = false;
  stallReaders = false;
  private readonly stalled: { client: Socket<unknown>; chunks: Uint8Array[] }[] = [];
  /** Command bytes kept back while `holdCommands` was on, in order. */
  readonly held: Uint8Array[] = [];
  port = 0;
  private listener: TCPSocketListener<{ peer?: Socket<unknown>; buf: Uint8Array[]; reader?: { client: Socket<unknown>; chunks: Uint8Array[] } }> | undefined;
  private readonly open = new Set<Socket<unknown>>();

  constructor(private readonly target: number) {}

  start(): this {
    const self = this;
    this.listener = Bun.listen<{ peer?: Socket<unknown>; buf: Uint8Array[]; reader?: { client: Socket<unknown>; chunks: Uint8Array[] } }>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(client) {
          client.data = { buf: [] };
          self.open.add(client as Socket<unknown>);
          void Bun.connect<{ client: typeof client }>({
            hostname: "127.0.0.1",
            port: self.target,
            data: { client },
            socket: {
              open(peer) {
                client.data.peer = peer as Socket<unknown>;
                self.open.add(peer as Socket<unknown>);
                for (const b of client.data.buf) peer.write(b);
                client.data.buf = [];
              },
              data(peer, chunk) {
                if (self.dropReplies) return;
                const reader = peer.data.client.data.reader;
                if (reader && self.stallReaders) reader.chunks.push(new Uint8Array(chunk));
                else peer.data.client.write(chunk);
              },
              close(peer) {
                self.open.delete(peer as Socket<unknown>);
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
          const bytes = new Uint8Array(chunk);
          if (!client.data.reader && new TextDecoder().decode(bytes).includes("XREAD")) {
            client.data.reader = { client: client as Socket<unknown>, chunks: [] };
            self.stalled.push(client.data.reader);
          }
          if (self.holdCommands) self.held.push(bytes);
          else if (client.data.peer) client.data.peer.write(bytes);
          else client.data.buf.push(bytes);
        },
        close(client) {
          self.open.delete(client as Socket<unknown>);
          client.data.peer?.end();
        },
      },
    });
    this.port = this.listener.port;
    return this;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Lets the held answers of every reader connection through, in order, and stops stalling them. */
  releaseReaders(): void {
    this.stallReaders = false;
    for (const r of this.stalled) {
      for (const c of r.chunks) r.client.write(c);
      r.chunks.length = 0;
    }
  }

  /** Ends every open connection at once (clients reconnect through the proxy). */
  cut(): void {
    for (const s of [...this.open]) s.terminate();
    this.open.clear();
  }

  stop(): void {
    this.cut();
    this.listener?.stop(true);
  }
}

/** Sends `bytes` to Redis on a fresh connection and returns what it answered (a late copy of held commands). */
export async function deliverLate(port: number, bytes: Uint8Array[], settleMs = 300): Promise<string> {
  let answer = "";
  const sock = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, chunk) {
        answer += new TextDecoder().decode(chunk);
      },
    },
  });
  for (const b of bytes) sock.write(b);
  sock.flush();
  const deadline = Date.now() + 5000;
  // The answer arrives in pieces: wait until nothing new came for settleMs.
  let last = "";
  let since = Date.now();
  while (Date.now() < deadline) {
    await Bun.sleep(25);
    if (answer !== last) (last = answer), (since = Date.now());
    else if (answer !== "" && Date.now() - since >= settleMs) break;
  }
  sock.end();
  return answer;
}

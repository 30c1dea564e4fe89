import { TcpProxy, type ProxyClient } from "../helpers/tcp-proxy.ts";

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
export class LossyProxy extends TcpProxy {
  dropReplies = false;
  holdCommands = false;
  stallReaders = false;
  /** Command bytes kept back while `holdCommands` was on, in order. */
  readonly held: Uint8Array[] = [];
  /** Connections that sent XREAD (bus readers), with their answers held while `stallReaders` is on. */
  private readonly readers = new Map<ProxyClient, Uint8Array[]>();

  protected override forward(client: ProxyClient, bytes: Uint8Array): void {
    if (!this.readers.has(client) && new TextDecoder().decode(bytes).includes("XREAD")) this.readers.set(client, []);
    if (this.holdCommands) this.held.push(bytes);
    else super.forward(client, bytes);
  }

  protected override answer(client: ProxyClient, chunk: Uint8Array): void {
    if (this.dropReplies) return;
    const held = this.readers.get(client);
    if (held && this.stallReaders) held.push(new Uint8Array(chunk));
    else super.answer(client, chunk);
  }

  override get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Lets the held answers of every reader connection through, in order, and stops stalling them. */
  releaseReaders(): void {
    this.stallReaders = false;
    for (const [client, chunks] of this.readers) {
      for (const c of chunks) client.write(c);
      chunks.length = 0;
    }
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

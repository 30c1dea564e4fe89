import type { Socket } from "bun";

/**
 * A WebSocket client written against raw TCP (Bun.connect), for what a real
 * client library will not do: send invalid UTF-8 in text frames, reserved
 * opcodes, arbitrary payloads, or read the HTTP answer to a refused upgrade.
 */
export interface RawFrame {
  opcode: number;
  /** Date.now() when it arrived. */
  at?: number;
  payload: Uint8Array;
}

export type HandshakeResult = { ok: true; ws: RawWs; headers: string } | { ok: false; status: number; headers: string; body: string };

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

const enc = new TextEncoder();
const dec = new TextDecoder();

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Encodes one masked client frame. */
export function encodeFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const len = payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | (opcode & 0x0f)];
  if (len < 126) head.push(0x80 | len);
  else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 0xff);
  else {
    head.push(0x80 | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const out = new Uint8Array(head.length + 4 + len);
  out.set(head);
  out.set(mask, head.length);
  const off = head.length + 4;
  for (let i = 0; i < len; i++) out[off + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

export class RawWs {
  readonly frames: RawFrame[] = [];
  /** Answer the server's pings (a live client); false plays a client that went silent. */
  answerPings = true;
  /** Close code from the server's close frame, or 1006 when the TCP connection ended without one. */
  closeCode: number | undefined;
  readonly closed: Promise<number>;
  private resolveClosed!: (code: number) => void;
  private buf: Uint8Array = new Uint8Array(0);
  private pending: Uint8Array[] = [];
  private waiters: { pred: (f: RawFrame) => boolean; resolve: (f: RawFrame) => void }[] = [];

  private constructor(private readonly socket: Socket<undefined>) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  /** Opens a TCP connection to `url` (ws://host:port/path?query) and performs the upgrade by hand. */
  static async connect(url: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<HandshakeResult> {
    const u = new URL(url);
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
    const answer = Promise.withResolvers<HandshakeResult>();
    let head: Uint8Array = new Uint8Array(0);
    let ws: RawWs | undefined;
    let handshakeDone = false;
    let failed: { status: number; headers: string; body: Uint8Array } | undefined;
    const socket = await Bun.connect({
      hostname: u.hostname,
      port: Number(u.port),
      socket: {
        data(sock, chunk) {
          if (handshakeDone) return ws!.onBytes(chunk);
          if (failed) {
            failed.body = concat(failed.body, chunk);
            return;
          }
          head = concat(head, chunk);
          const text = dec.decode(head);
          const end = text.indexOf("\r\n\r\n");
          if (end < 0) return;
          const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
          const headerText = text.slice(0, end);
          const rest = head.slice(Buffer.byteLength(text.slice(0, end + 4)));
          if (status === 101) {
            handshakeDone = true;
            ws = new RawWs(sock as Socket<undefined>);
            answer.resolve({ ok: true, ws, headers: headerText });
            if (rest.length > 0) ws.onBytes(rest);
          } else {
            failed = { status, headers: headerText, body: rest };
            const len = Number(/content-length:\s*(\d+)/i.exec(headerText)?.[1] ?? -1);
            if (len >= 0 && rest.length >= len) {
              answer.resolve({ ok: false, status, headers: headerText, body: dec.decode(rest) });
              sock.end();
            }
          }
        },
        drain(_sock) {
          ws?.flush();
        },
        close() {
          if (ws) ws.onEnd();
          else if (failed) answer.resolve({ ok: false, status: failed.status, headers: failed.headers, body: dec.decode(failed.body) });
          else answer.reject(new Error("connection closed during the handshake"));
        },
        error(_sock, err) {
          answer.reject(err);
        },
      },
    });
    const path = u.pathname + u.search;
    const extra = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
    const timer = setTimeout(() => answer.reject(new Error("handshake timed out")), timeoutMs);
    return answer.promise.finally(() => clearTimeout(timer));
  }

  /** Sends raw bytes (already framed), queueing whatever the socket does not take now. */
  write(bytes: Uint8Array): void {
    if (this.closeCode !== undefined) return;
    if (this.pending.length > 0) {
      this.pending.push(bytes);
      return;
    }
    const n = this.socket.write(bytes);
    if (n < bytes.length) this.pending.push(bytes.subarray(Math.max(0, n)));
  }

  sendFrame(opcode: number, payload: Uint8Array | string, fin = true): void {
    this.write(encodeFrame(opcode, typeof payload === "string" ? enc.encode(payload) : payload, fin));
  }

  sendText(text: string | Uint8Array): void {
    this.sendFrame(OP.TEXT, text);
  }

  /** Bytes not yet handed to the kernel. */
  get queuedBytes(): number {
    return this.pending.reduce((n, b) => n + b.length, 0);
  }

  /** Resolves once everything queued was handed to the kernel (or the socket closed). */
  async drained(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.length > 0 && this.closeCode === undefined) {
      if (Date.now() > deadline) throw new Error("socket did not drain");
      this.flush();
      await Bun.sleep(1);
    }
  }

  private flush(): void {
    while (this.pending.length > 0) {
      const b = this.pending[0]!;
      const n = this.socket.write(b);
      if (n >= b.length) this.pending.shift();
      else {
        this.pending[0] = b.subarray(Math.max(0, n));
        return;
      }
    }
  }

  /** Text frames received, parsed as JSON. */
  json(): Record<string, any>[] {
    return this.frames.filter((f) => f.opcode === OP.TEXT).map((f) => JSON.parse(dec.decode(f.payload)));
  }

  next(pred: (f: RawFrame) => boolean, timeoutMs = 10_000): Promise<RawFrame> {
    const found = this.frames.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for a raw frame")), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Waits for a JSON text frame matching `pred`. */
  async nextJson(pred: (f: Record<string, any>) => boolean, timeoutMs = 10_000): Promise<Record<string, any>> {
    const f = await this.next((r) => {
      if (r.opcode !== OP.TEXT) return false;
      try {
        return pred(JSON.parse(dec.decode(r.payload)));
      } catch {
        return false;
      }
    }, timeoutMs);
    return JSON.parse(dec.decode(f.payload));
  }

  end(): void {
    this.socket.end();
  }

  /** Stops reading the socket (a client that stopped reading: the kernel buffers fill, then the server's). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  private onBytes(chunk: Uint8Array): void {
    this.buf = concat(this.buf, chunk);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = (b[2]! << 8) | b[3]!;
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
        off = 10;
      }
      if (b.length < off + len) return;
      const frame = { opcode: b[0]! & 0x0f, payload: b.slice(off, off + len), at: Date.now() };
      this.buf = b.slice(off + len);
      this.onFrame(frame);
    }
  }

  private onFrame(f: RawFrame): void {
    if (f.opcode === OP.PING && this.answerPings) this.sendFrame(OP.PONG, f.payload);
    if (f.opcode === OP.CLOSE && this.closeCode === undefined) {
      const code = f.payload.length >= 2 ? (f.payload[0]! << 8) | f.payload[1]! : 1005;
      this.frames.push(f);
      this.closeCode = code;
      this.resolveClosed(code);
      return;
    }
    this.frames.push(f);
    this.waiters = this.waiters.filter((w) => {
      if (w.pred(f)) {
        w.resolve(f);
        return false;
      }
      return true;
    });
  }

  private onEnd(): void {
    if (this.closeCode === undefined) {
      this.closeCode = 1006;
      this.resolveClosed(1006);
    }
  }
}

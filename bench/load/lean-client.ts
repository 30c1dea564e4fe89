/**
 * The lean WebSocket client the load workers use: raw TCP through
 * `Bun.connect`, a hand-written HTTP/1.1 upgrade, masked client frames and an
 * in-place frame parser. Delivered messages are recognised by a byte prefix
 * and counted without decoding them; only handshake/ack frames that someone
 * waits for are decoded to strings.
 */
import type { Socket } from "bun";
import { FrameParser, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, encodeClientFrame, readIntAfter, startsWith } from "../lib/ws-frames.ts";

export interface LeanOptions {
  host: string;
  port: number;
  /** Request target incl. query, e.g. `/v1/ws`. */
  path: string;
  headers?: Record<string, string>;
  /** Byte prefix of a delivered publication (counted, handed to `onMsg`). */
  msgPrefix: Uint8Array;
  /** Byte prefix of a publish acknowledgement (counted). */
  ackPrefix?: Uint8Array;
  /** Byte prefix of an error answer (counted; a refused publish is not a sent one). */
  errPrefix?: Uint8Array;
  /** Bytes after which an answer carries its request id. */
  idKey?: Uint8Array;
  /** Engine.IO heartbeats: answer a text "2" with "3". */
  engineIoPing?: boolean;
}

type Waiter = { pred: (text: string) => boolean; resolve: (text: string) => void; reject: (e: Error) => void; timer: Timer };

const decoder = new TextDecoder();
const CRLF2 = "\r\n\r\n";

export class LeanConn {
  socket: Socket<LeanConn> | null = null;
  /** Publications received (frames starting with `msgPrefix`). */
  received = 0;
  acks = 0;
  errs = 0;
  /** Bytes received after the upgrade (WebSocket frames: headers and payloads). */
  bytesIn = 0;
  closed = false;
  closeInfo = "";
  onMsg: ((buf: Uint8Array, start: number, end: number) => void) | null = null;
  onAck: ((buf: Uint8Array, start: number, end: number) => void) | null = null;
  /** Every `ok` (true) or `err` (false) answer with the request id it names (-1 when none). */
  onAnswer: ((ok: boolean, id: number, buf: Uint8Array, start: number, end: number) => void) | null = null;
  readonly parser: FrameParser;
  private upgraded = false;
  private head = "";
  private outq: Uint8Array[] = [];
  private waiter: Waiter | null = null;
  private inbox: string[] = [];
  private readonly upgrade = Promise.withResolvers<void>();
  private readonly mask = crypto.getRandomValues(new Uint8Array(4));

  constructor(readonly opts: LeanOptions) {
    this.parser = new FrameParser((op, buf, s, e) => this.frame(op, buf, s, e));
    this.upgrade.promise.catch(() => {});
  }

  static async open(opts: LeanOptions, timeoutMs = 15_000): Promise<LeanConn> {
    const c = new LeanConn(opts);
    const timer = setTimeout(() => c.fail(new Error(`upgrade timed out after ${timeoutMs} ms`)), timeoutMs);
    try {
      await Bun.connect<LeanConn>({ hostname: opts.host, port: opts.port, data: c, socket: leanHandlers });
      await c.upgrade.promise;
    } finally {
      clearTimeout(timer);
    }
    return c;
  }

  onOpen(socket: Socket<LeanConn>): void {
    this.socket = socket;
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
    let req = `GET ${this.opts.path} HTTP/1.1\r\nHost: ${this.opts.host}:${this.opts.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
    for (const [k, v] of Object.entries(this.opts.headers ?? {})) req += `${k}: ${v}\r\n`;
    this.write(new TextEncoder().encode(req + "\r\n"));
  }

  onData(chunk: Uint8Array): void {
    if (this.upgraded) {
      this.bytesIn += chunk.length;
      this.parser.push(chunk);
      return;
    }
    // The response head is ASCII; anything after it is already frame data.
    this.head += Buffer.from(chunk).toString("latin1");
    const at = this.head.indexOf(CRLF2);
    if (at < 0) {
      if (this.head.length > 16_384) this.fail(new Error("upgrade response head too large"));
      return;
    }
    const status = this.head.slice(0, this.head.indexOf("\r\n"));
    if (!/^HTTP\/1\.1 101/.test(status)) {
      this.fail(new Error(`upgrade refused: ${status} ${this.head.slice(at + 4, at + 300)}`));
      return;
    }
    const rest = Buffer.from(this.head.slice(at + 4), "latin1");
    this.head = "";
    this.upgraded = true;
    this.upgrade.resolve();
    this.bytesIn += rest.length;
    if (rest.length > 0) this.parser.push(rest);
  }

  private frame(op: number, buf: Uint8Array, s: number, e: number): void {
    if (op === OP_TEXT) {
      if (startsWith(buf, s, e, this.opts.msgPrefix)) {
        this.received++;
        if (this.onMsg !== null) this.onMsg(buf, s, e);
        return;
      }
      if (this.opts.ackPrefix !== undefined && startsWith(buf, s, e, this.opts.ackPrefix)) {
        this.acks++;
        if (this.onAnswer !== null) this.onAnswer(true, this.answerId(buf, s, e), buf, s, e);
        if (this.onAck !== null) this.onAck(buf, s, e);
        if (this.waiter === null) return;
      } else if (this.opts.errPrefix !== undefined && startsWith(buf, s, e, this.opts.errPrefix)) {
        this.errs++;
        if (this.onAnswer !== null) this.onAnswer(false, this.answerId(buf, s, e), buf, s, e);
        if (this.onAck !== null) this.onAck(buf, s, e);
        if (this.waiter === null) return;
      }
      if (this.opts.engineIoPing && e - s === 1 && buf[s] === 0x32) {
        this.sendText("3");
        return;
      }
      if (this.waiter === null) {
        // Nobody waits yet (e.g. `hello` arrived with the 101): keep it for the next expect().
        if (this.inbox.length < 16) this.inbox.push(decoder.decode(buf.subarray(s, e)));
        return;
      }
      {
        const text = decoder.decode(buf.subarray(s, e));
        const w = this.waiter;
        if (w.pred(text)) {
          this.waiter = null;
          clearTimeout(w.timer);
          w.resolve(text);
        } else if (text.startsWith('{"t":"err"') || text.startsWith("44")) {
          this.waiter = null;
          clearTimeout(w.timer);
          w.reject(new Error(`server error: ${text.slice(0, 300)}`));
        }
      }
      return;
    }
    if (op === OP_PING) {
      this.write(encodeClientFrame(OP_PONG, Uint8Array.prototype.slice.call(buf, s, e), this.mask));
    } else if (op === OP_CLOSE) {
      const code = e - s >= 2 ? (buf[s] << 8) | buf[s + 1] : 1005;
      this.closeInfo = `close ${code} ${decoder.decode(buf.subarray(s + 2, e))}`;
      this.close();
    }
  }

  private answerId(buf: Uint8Array, s: number, e: number): number {
    return this.opts.idKey === undefined ? -1 : readIntAfter(buf, s, e, this.opts.idKey);
  }

  /** Waits for the next decoded text frame matching `pred` (one waiter at a time). */
  expect(pred: (text: string) => boolean, timeoutMs = 15_000): Promise<string> {
    if (this.waiter !== null) throw new TypeError("one waiter at a time");
    if (this.closed) return Promise.reject(new Error(`connection closed ${this.closeInfo}`));
    while (this.inbox.length > 0) {
      const text = this.inbox.shift()!;
      if (pred(text)) return Promise.resolve(text);
      if (text.startsWith('{"t":"err"') || text.startsWith("44")) return Promise.reject(new Error(`server error: ${text.slice(0, 300)}`));
    }
    const p = Promise.withResolvers<string>();
    const timer = setTimeout(() => {
      this.waiter = null;
      p.reject(new Error(`no matching frame within ${timeoutMs} ms`));
    }, timeoutMs);
    this.waiter = { pred, resolve: p.resolve, reject: p.reject, timer };
    return p.promise;
  }

  sendText(text: string): void {
    this.write(encodeClientFrame(OP_TEXT, text, this.mask));
  }

  write(bytes: Uint8Array): void {
    const s = this.socket;
    if (s === null || this.closed) return;
    if (this.outq.length > 0) {
      this.outq.push(bytes);
      return;
    }
    const n = s.write(bytes);
    if (n < bytes.length) this.outq.push(n <= 0 ? bytes : bytes.subarray(n));
  }

  onDrain(): void {
    const s = this.socket;
    while (s !== null && this.outq.length > 0) {
      const b = this.outq[0];
      const n = s.write(b);
      if (n < b.length) {
        this.outq[0] = n <= 0 ? b : b.subarray(n);
        return;
      }
      this.outq.shift();
    }
  }

  fail(err: Error): void {
    this.upgrade.reject(err);
    if (this.waiter !== null) {
      clearTimeout(this.waiter.timer);
      this.waiter.reject(err);
      this.waiter = null;
    }
    this.close();
  }

  onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error(`connection closed ${this.closeInfo}`));
  }

  close(): void {
    this.closed = true;
    this.socket?.end();
  }
}

const leanHandlers = {
  open(s: Socket<LeanConn>) {
    s.data.onOpen(s);
  },
  data(s: Socket<LeanConn>, chunk: Buffer) {
    s.data.onData(chunk);
  },
  drain(s: Socket<LeanConn>) {
    s.data.onDrain();
  },
  close(s: Socket<LeanConn>) {
    s.data.onClosed();
  },
  error(s: Socket<LeanConn>, err: Error) {
    s.data.fail(err);
  },
  connectError(s: Socket<LeanConn>, err: Error) {
    s.data.fail(err);
  },
};

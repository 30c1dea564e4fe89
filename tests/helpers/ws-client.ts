/**
 * A raw protocol test client over the global WebSocket: sends frames, awaits
 * frames by predicate (no sleeps), records everything received.
 */
export type Frame = Record<string, any>;

export class TestClient {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  closeReason = "";
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private nextId = 1;

  constructor(url: string, opts: { headers?: Record<string, string> } = {}) {
    // Bun's WebSocket accepts headers; browsers do not (tests only).
    this.ws = new WebSocket(url, opts.headers ? ({ headers: opts.headers } as any) : undefined);
    const opened = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<{ code: number; reason: string }>();
    this.opened = opened.promise;
    this.closed = closed.promise;
    this.ws.onopen = () => opened.resolve();
    this.ws.onerror = () => opened.reject(new Error("websocket error before open"));
    this.ws.onclose = (e) => {
      this.closeCode = e.code;
      this.closeReason = e.reason;
      opened.reject(new Error(`closed ${e.code} before open`));
      closed.resolve({ code: e.code, reason: e.reason });
    };
    this.opened.catch(() => {});
    this.ws.onmessage = (e) => {
      const f = JSON.parse(String(e.data)) as Frame;
      this.frames.push(f);
      this.waiters = this.waiters.filter((w) => {
        if (w.pred(f)) {
          w.resolve(f);
          return false;
        }
        return true;
      });
    };
  }

  static async connect(url: string, opts: { headers?: Record<string, string> } = {}): Promise<TestClient> {
    const c = new TestClient(url, opts);
    await c.opened;
    return c;
  }

  /** Connects and authenticates with an `auth` frame; resolves with the hello frame. */
  static async auth(wsUrl: string, jwt: string): Promise<{ client: TestClient; hello: Frame }> {
    const client = await TestClient.connect(wsUrl);
    client.send({ t: "auth", token: jwt });
    const hello = await client.next((f) => f.t === "hello" || f.t === "err");
    if (hello.t !== "hello") throw new Error(`auth failed: ${JSON.stringify(hello)}`);
    return { client, hello };
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Waits for the first frame (already received or future) matching `pred`. */
  next(pred: (f: Frame) => boolean, timeoutMs = 5000, fromIndex = 0): Promise<Frame> {
    const found = this.frames.slice(fromIndex).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for frame; got ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Waits for a future frame only (ignores frames already received). */
  nextNew(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    return this.next(pred, timeoutMs, this.frames.length);
  }

  /** Sends a request frame with a fresh id and awaits its ok/err answer. */
  async request(frame: Frame, timeoutMs = 5000): Promise<Frame> {
    const id = this.nextId++;
    const mark = this.frames.length;
    this.send({ ...frame, id });
    return this.next((f) => (f.t === "ok" || f.t === "err") && f.id === id, timeoutMs, mark);
  }

  /** Number of frames matching `pred` received so far. */
  count(pred: (f: Frame) => boolean): number {
    return this.frames.filter(pred).length;
  }

  /** Waits until `n` frames match `pred`. */
  async waitCount(pred: (f: Frame) => boolean, n: number, timeoutMs = 10_000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.count(pred) < n) {
      if (Date.now() > deadline) throw new Error(`timed out: ${this.count(pred)}/${n} frames`);
      await this.nextNew(pred, Math.max(1, deadline - Date.now())).catch(() => {});
    }
    return this.frames.filter(pred);
  }

  close(code = 1000): void {
    this.ws.close(code);
  }
}

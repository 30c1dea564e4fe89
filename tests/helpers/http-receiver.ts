/** A real HTTP endpoint for webhook and job tests: Bun.serve on port 0, recording every request. */
export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The raw body (a PDF is not text). */
  bytes: Uint8Array;
  json: any;
  atMs: number;
}

export interface HttpReceiver {
  url: string;
  port: number;
  received: Received[];
  /** Decides each answer; default 200. May hang (return a promise that never settles) to simulate a stuck backend. */
  respond: (r: Received) => Response | Promise<Response>;
  /** Resolves once `n` requests matching `filter` arrived. */
  waitFor(n: number, filter?: (r: Received) => boolean, timeoutMs?: number): Promise<Received[]>;
  stop(): void;
}

export function startReceiver(): HttpReceiver {
  const waiters: (() => void)[] = [];
  const rec: HttpReceiver = {
    url: "",
    port: 0,
    received: [],
    respond: () => new Response("ok"),
    async waitFor(n, filter = () => true, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hits = rec.received.filter(filter);
        if (hits.length >= n) return hits;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${n} requests (got ${hits.length})`);
        const w = Promise.withResolvers<void>();
        waiters.push(w.resolve);
        const t = setTimeout(w.resolve, left);
        await w.promise;
        clearTimeout(t);
      }
    },
    stop: () => server.stop(true),
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const bytes = new Uint8Array(await req.arrayBuffer());
      const body = new TextDecoder().decode(bytes);
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const r: Received = { path: new URL(req.url).pathname, headers: req.headers.toJSON(), body, bytes, json, atMs: Date.now() };
      rec.received.push(r);
      for (const w of waiters.splice(0)) w();
      return rec.respond(r);
    },
  });
  rec.port = server.port!;
  rec.url = `http://127.0.0.1:${server.port}`;
  return rec;
}

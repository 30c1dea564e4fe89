import { SwitchboardClient, type ClientEvents, type ClientOptions, type Message } from "../../src/client/index.ts";

/** Collects a subscription's messages and lets a test await a count (no sleeps). */
export class Inbox<T = unknown> {
  readonly messages: Message<T>[] = [];
  private waiters: { done(): boolean; resolve(): void }[] = [];

  readonly push = (m: Message<T>): void => {
    this.messages.push(m);
    this.waiters = this.waiters.filter((w) => (w.done() ? (w.resolve(), false) : true));
  };

  get data(): T[] {
    return this.messages.map((m) => m.data);
  }

  /** Resolves once `n` messages arrived in total. */
  waitFor(n: number, timeoutMs = 10_000): Promise<void> {
    return this.until(() => this.messages.length >= n, timeoutMs, () => `inbox has ${this.messages.length}/${n} messages`);
  }

  /** Resolves once a message matching `pred` arrived. */
  waitForMessage(pred: (m: Message<T>) => boolean, timeoutMs = 10_000): Promise<void> {
    return this.until(() => this.messages.some(pred), timeoutMs, () => `no matching message among ${this.messages.length}`);
  }

  private until(done: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    if (done()) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => this.waiters.push({ done, resolve })), timeoutMs, what);
  }
}

/** Resolves with the first `event` payload matching `pred` emitted from now on. */
export function nextEvent<K extends keyof ClientEvents>(
  client: SwitchboardClient,
  event: K,
  pred: (p: ClientEvents[K]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<ClientEvents[K]> {
  let stop = () => {};
  const p = new Promise<ClientEvents[K]>((resolve) => {
    stop = client.on(event, (payload) => {
      if (!pred(payload)) return;
      stop();
      resolve(payload);
    });
  });
  return withTimeout(p, timeoutMs, () => `no ${String(event)} event`).finally(stop);
}

/** Records every client event in order, with its time. */
export function recordEvents(client: SwitchboardClient): { name: keyof ClientEvents; at: number; payload: unknown }[] {
  const log: { name: keyof ClientEvents; at: number; payload: unknown }[] = [];
  for (const name of ["connecting", "connected", "disconnected", "reconnecting", "error", "recoveryFailed", "tokenRefreshed"] as const) {
    client.on(name, (payload) => log.push({ name, at: Date.now(), payload }));
  }
  return log;
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Clients created by a test, closed in afterEach. */
export function clientPool() {
  const clients: SwitchboardClient[] = [];
  return {
    create(url: string, opts: ClientOptions): SwitchboardClient {
      const c = new SwitchboardClient(url, { minReconnectDelayMs: 50, maxReconnectDelayMs: 500, ...opts });
      clients.push(c);
      return c;
    },
    closeAll(): void {
      for (const c of clients.splice(0)) c.close();
    },
  };
}

/** Publishes through the server HTTP API and returns the offset. */
export async function apiPublish(server: { api(path: string, init?: RequestInit & { json?: unknown }): Promise<Response> }, ch: string, ev: string, data: unknown): Promise<string> {
  const res = await server.api("/v1/publish", { method: "POST", json: { ch, ev, data } });
  const body = (await res.json()) as { off?: string; error?: unknown };
  if (res.status !== 200 || typeof body.off !== "string") throw new Error(`publish failed: ${res.status} ${JSON.stringify(body)}`);
  return body.off;
}

/**
 * The chaos run's clients, all on the SDK (src/client): sequenced publishers
 * that record the outcome of every publication, and subscribers that record
 * what they were delivered and every recovery failure they were told about.
 */
import { SwitchboardClient, type Subscription, type SwitchboardClientError } from "../../src/client/index.ts";
import { token } from "../helpers/server.ts";

/** Every WebSocket the SDK opens, so that the run can drop client connections. */
export const openSockets = new Set<WebSocket>();

class TrackedWebSocket extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    openSockets.add(this);
    this.addEventListener("close", () => openSockets.delete(this));
  }
}

/** Cuts the TCP connection without a close frame (the server sees 1006, the SDK reconnects). */
export function dropSocket(ws: WebSocket): void {
  const terminate = (ws as unknown as { terminate?: () => void }).terminate;
  if (typeof terminate === "function") terminate.call(ws);
  else ws.close(4000, "chaos");
}

function client(url: string, sub: string, rooms: string[]): SwitchboardClient {
  return new SwitchboardClient(url, {
    getToken: () => token({ sub, rooms }, { expSec: 3600 }),
    minReconnectDelayMs: 50,
    maxReconnectDelayMs: 1000,
    requestTimeoutMs: 5000,
    connectTimeoutMs: 5000,
    WebSocket: TrackedWebSocket as unknown as typeof WebSocket,
  });
}

export type Outcome = { kind: "acked"; ch: string; off: string } | { kind: "refused"; ch: string; code: string } | { kind: "unknown"; ch: string; code: string };

export class Publisher {
  readonly client: SwitchboardClient;
  /** Outcome per publication id (`<publisher>:<n>`); only publications that were sent. */
  readonly outcomes = new Map<string, Outcome>();
  private n = 0;

  constructor(
    readonly name: string,
    url: string,
    private readonly channels: string[],
    rooms: string[],
  ) {
    this.client = client(url, name, rooms);
  }

  acked = 0;

  get sent(): number {
    return this.outcomes.size;
  }

  /** Publishes with up to `window` in flight until `stop()` says so, waiting while disconnected. */
  async run(window: number, pick: () => number, stop: () => boolean, paceMs = 0): Promise<void> {
    await this.client.connect();
    const lanes = Array.from({ length: window }, async () => {
      while (!stop()) {
        if (this.client.state !== "connected") {
          await new Promise<void>((resolve) => {
            const off = this.client.on("connected", () => (off(), resolve()));
            // A check after subscribing: the state may have changed in between.
            if (this.client.state === "connected") (off(), resolve());
          });
          continue;
        }
        const id = `${this.name}:${++this.n}`;
        const ch = this.channels[pick() % this.channels.length]!;
        try {
          const { off } = await this.client.publish(ch, "seq", { id });
          this.outcomes.set(id, { kind: "acked", ch, off });
          this.acked++;
          if (paceMs > 0) await Bun.sleep(paceMs);
        } catch (e) {
          const err = e as SwitchboardClientError;
          // Not connected when called: nothing was sent.
          if (err.code === "SERVICE_UNAVAILABLE" && err.message.startsWith("not connected")) continue;
          // No answer, or the node could not learn whether Redis performed it: the outcome is unknown.
          // Any other error promises that nothing was published.
          const unknown = err.code === "DISCONNECTED" || err.code === "TIMEOUT" || (err.code === "INTERNAL_ERROR" && err.message.includes("outcome unknown"));
          this.outcomes.set(id, { kind: unknown ? "unknown" : "refused", ch, code: err.code });
          // A real client backs off instead of hammering a node that just refused it.
          await Bun.sleep(20 + Math.floor(Math.random() * 80));
        }
      }
    });
    await Promise.all(lanes);
  }
}

export interface Received {
  off: string;
  id: string;
}

export class Subscriber {
  readonly client: SwitchboardClient;
  /** Per channel, in delivery order. */
  readonly received = new Map<string, Received[]>();
  /** Per channel: the offset of the first subscribe (delivery promised after it). */
  readonly startOff = new Map<string, string>();
  /** Per channel: ranges (since, off] the server said it could not recover. */
  readonly gaps = new Map<string, { since: string; off: string }[]>();
  recoveredFalse = 0;
  /** Subscriptions the server refused or ended. */
  readonly errors: string[] = [];
  private readonly subs = new Map<string, Subscription<{ id: string }>>();

  constructor(
    readonly name: string,
    readonly url: string,
    readonly channels: string[],
    rooms: string[],
  ) {
    this.client = client(url, name, rooms);
  }

  async start(): Promise<void> {
    await this.client.connect();
    await Promise.all(
      this.channels.map((ch) => {
        this.received.set(ch, []);
        this.gaps.set(ch, []);
        const sub = this.client.subscribe<{ id: string }>(ch, (m) => this.received.get(ch)!.push({ off: m.off!, id: m.data.id }), {
          onRecoveryFailed: (info) => {
            this.recoveredFalse++;
            this.gaps.get(ch)!.push({ since: info.since, off: info.off });
          },
          onSubscribed: (r) => {
            if (!r.resubscribed) this.startOff.set(ch, r.off);
          },
          onError: (err) => this.errors.push(`${ch}: ${err.code} ${err.message}`),
        });
        this.subs.set(ch, sub);
        return sub.ready;
      }),
    );
  }

  /** State of the subscription to `ch` (for diagnostics). */
  subscription(ch: string): string {
    return this.subs.get(ch)?.state ?? "none";
  }

  lastOff(ch: string): bigint {
    const list = this.received.get(ch)!;
    const last = list.length > 0 ? list[list.length - 1]!.off : this.startOff.get(ch) ?? "0";
    return BigInt(last);
  }
}

import type { SwitchboardClient } from "./client.ts";
import type { SwitchboardClientError } from "./errors.ts";
import type { StatusEntry } from "./feature-frames.ts";

/**
 * Following the status of a list of users: the roster on every (re)connect,
 * then each change, from any node. `onChange` sees every entry, starting with
 * the roster's.
 */
export class StatusWatch {
  /** Resolves with the first roster; rejects when the server refuses the watch. */
  readonly ready: Promise<StatusEntry[]>;
  private readonly users: Set<string>;
  private readonly stops: (() => void)[] = [];
  private stopped = false;
  private settle!: { resolve(r: StatusEntry[]): void; reject(e: SwitchboardClientError): void };
  private first = true;

  constructor(
    private readonly client: SwitchboardClient,
    users: string[],
    private readonly onChange: (entry: StatusEntry) => void,
  ) {
    this.users = new Set(users);
    this.ready = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.ready.catch(() => {});
    this.stops.push(client.onFeatureFrame("status", (e) => this.users.has(e.user) && this.onChange(e)));
    this.stops.push(client.on("connected", () => this.watch()));
    if (client.state === "connected") this.watch();
  }

  private watch(): void {
    if (this.stopped) return;
    this.client.featureRequest({ t: "watch", users: [...this.users] }).then(
      (ok) => {
        const entries = (ok.users as StatusEntry[]) ?? [];
        for (const e of entries) this.onChange(e);
        if (this.first) this.settle.resolve(entries);
        this.first = false;
      },
      (err: SwitchboardClientError) => {
        // A lost connection watches again on the next one; a refusal is final.
        if (err.code !== "DISCONNECTED" && err.code !== "CLOSED" && err.code !== "SERVICE_UNAVAILABLE") this.settle.reject(err);
      },
    );
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const s of this.stops.splice(0)) s();
    if (this.client.state === "connected") this.client.featureRequest({ t: "unwatch", users: [...this.users] }).catch(() => {});
  }
}

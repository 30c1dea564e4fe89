/**
 * The soak's churn load: `procs` worker processes (churn-worker.ts), each
 * with its own 127.0.0.x source address and a share of the connections,
 * and their latest tallies.
 */
import type { Subprocess } from "bun";
import { join } from "node:path";

export interface ChurnTally {
  worker: number;
  open: number;
  connects: number;
  plannedCloses: number;
  unexpectedCloses: number;
  connectErrors: number;
  subs: number;
  resubs: number;
  recoveredTrue: number;
  recoveredFalse: number;
  replayed: number;
  delivered: number;
  dup: number;
  silentGaps: number;
  subErrors: Record<string, number>;
  closeCodes: Record<string, number>;
}

export interface ChurnOptions {
  connections: number;
  procs: number;
  ports: number[];
  channels: string[];
  channelsPerConn: number;
  lifeSec: [number, number];
  rampSec: number;
}

export class ChurnLoad {
  readonly tallies = new Map<number, ChurnTally>();
  readonly workers: Subprocess<"ignore", "pipe", "inherit">[] = [];
  private readers: Promise<void>[] = [];

  start(o: ChurnOptions): void {
    const per = Math.ceil(o.connections / o.procs);
    for (let w = 0; w < o.procs; w++) {
      const count = Math.min(per, o.connections - w * per);
      if (count <= 0) break;
      const params = { worker: w, ports: o.ports, localAddress: `127.0.0.${10 + w}`, count, channels: o.channels, channelsPerConn: o.channelsPerConn, lifeSec: o.lifeSec, rampSec: o.rampSec };
      const proc = Bun.spawn([process.execPath, join(import.meta.dir, "churn-worker.ts"), JSON.stringify(params)], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
      this.workers.push(proc);
      this.readers.push(this.read(proc));
    }
  }

  private async read(proc: Subprocess<"ignore", "pipe", "inherit">): Promise<void> {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of proc.stdout) {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const tally = JSON.parse(line) as ChurnTally;
          this.tallies.set(tally.worker, tally);
        } catch {
          // not a tally line
        }
      }
    }
  }

  total(): ChurnTally {
    const sum: ChurnTally = { worker: -1, open: 0, connects: 0, plannedCloses: 0, unexpectedCloses: 0, connectErrors: 0, subs: 0, resubs: 0, recoveredTrue: 0, recoveredFalse: 0, replayed: 0, delivered: 0, dup: 0, silentGaps: 0, subErrors: {}, closeCodes: {} };
    for (const t of this.tallies.values()) {
      for (const k of Object.keys(sum) as (keyof ChurnTally)[]) {
        if (k === "worker" || k === "subErrors" || k === "closeCodes") continue;
        (sum[k] as number) += t[k] as number;
      }
      for (const [code, n] of Object.entries(t.subErrors)) sum.subErrors[code] = (sum.subErrors[code] ?? 0) + n;
      for (const [code, n] of Object.entries(t.closeCodes ?? {})) sum.closeCodes[code] = (sum.closeCodes[code] ?? 0) + n;
    }
    return sum;
  }

  /** SIGTERM to every worker; resolves with the final tallies once they exited. */
  async stop(): Promise<ChurnTally> {
    for (const w of this.workers) if (w.exitCode === null) w.kill("SIGTERM");
    await Promise.all(this.workers.map((w) => w.exited));
    await Promise.all(this.readers);
    return this.total();
  }
}

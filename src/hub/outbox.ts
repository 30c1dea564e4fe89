import type { Conn } from "./ports.ts";

/**
 * Frames produced outside the socket's own callback (a publish acknowledged
 * once its batch committed) are not corked by Bun. The outbox collects them
 * and, in a microtask right after the batch that produced them, sends each
 * socket's frames in one corked write, together with the batch's
 * publications still queued for that socket: one syscall per socket, not per frame.
 *
 * Frames are kept as runs of the same socket, in order (a batch answers the
 * publications in the order they arrived, and a socket's frames arrive
 * together): no lookup per frame. A socket whose frames interleave with
 * another's gets more than one run, each sent in order.
 */
export class Outbox {
  private readonly conns: Conn[] = [];
  private readonly runs: (string | string[])[] = [];
  private scheduled = false;

  constructor(private readonly send: (conn: Conn, frame: string) => void) {}

  push(conn: Conn, frame: string): void {
    const n = this.conns.length;
    if (n > 0 && this.conns[n - 1] === conn) {
      const q = this.runs[n - 1]!;
      if (typeof q === "string") this.runs[n - 1] = [q, frame];
      else q.push(frame);
      return;
    }
    this.conns.push(conn);
    this.runs.push(frame);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Sends everything queued now (also used by drain before closing sockets). */
  readonly flush = (): void => {
    this.scheduled = false;
    const { conns, runs } = this;
    for (let i = 0; i < conns.length; i++) {
      const conn = conns[i]!;
      if (conn.data.closing) continue;
      const q = runs[i]!;
      if (typeof q === "string") this.send(conn, q);
      else {
        this.run = q;
        this.runConn = conn;
        conn.cork(this.sendRun);
      }
    }
    this.run = undefined;
    this.runConn = undefined;
    conns.length = 0;
    runs.length = 0;
  };

  private run: string[] | undefined;
  private runConn: Conn | undefined;
  /** One callback for every cork (no closure per socket and flush). */
  private readonly sendRun = (): void => {
    const conn = this.runConn!;
    for (const f of this.run!) this.send(conn, f);
  };
}

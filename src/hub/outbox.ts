import type { Conn } from "./ports.ts";

/**
 * Frames produced outside the socket's own callback (a publish acknowledged
 * once its batch committed) are not corked by Bun. The outbox collects them
 * per socket and, in a microtask right after the batch that produced them,
 * sends each socket's frames in one corked write, together with the batch's
 * publications still queued for that socket: one syscall per socket, not per frame.
 */
export class Outbox {
  private readonly queued = new Map<Conn, string | string[]>();
  private scheduled = false;

  constructor(private readonly send: (conn: Conn, frame: string) => void) {}

  push(conn: Conn, frame: string): void {
    const q = this.queued.get(conn);
    if (q === undefined) this.queued.set(conn, frame);
    else if (typeof q === "string") this.queued.set(conn, [q, frame]);
    else q.push(frame);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Sends everything queued now (also used by drain before closing sockets). */
  readonly flush = (): void => {
    this.scheduled = false;
    for (const [conn, q] of this.queued) {
      if (conn.data.closing) continue;
      if (typeof q === "string") this.send(conn, q);
      else
        conn.cork(() => {
          for (const f of q) this.send(conn, f);
        });
    }
    this.queued.clear();
  };
}

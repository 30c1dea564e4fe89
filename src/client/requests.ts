import { SwitchboardClientError, type ErrorCode } from "./errors.ts";

type Answer = Record<string, unknown>;

interface Pending {
  resolve(answer: Answer): void;
  reject(err: SwitchboardClientError): void;
  timer: ReturnType<typeof setTimeout>;
  ch?: string;
}

/**
 * Requests waiting for their `ok`/`err`. Every request settles exactly once:
 * answered, timed out, or failed when the connection goes away. Ids are
 * positive integers unique for the client's lifetime, so a late answer from
 * an old connection can never be taken for a new request's.
 */
export class PendingRequests {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Ids that timed out recently: their late answers are dropped, not mistaken for unsolicited errors. */
  private readonly expired = new Set<number>();

  constructor(private readonly timeoutMs: number) {}

  /** Registers a request; `send(id)` puts it on the wire. Resolves with the `ok` frame. */
  start(send: (id: number) => void, ch?: string): Promise<Answer> {
    const id = this.nextId++;
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.expired.add(id);
        if (this.expired.size > 1000) this.expired.delete(this.expired.values().next().value!);
        reject(new SwitchboardClientError("TIMEOUT", `no answer within ${this.timeoutMs} ms`, { ch }));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer, ch });
      try {
        send(id);
      } catch (cause) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new SwitchboardClientError("DISCONNECTED", "the connection closed before the request was sent", { ch, cause }));
      }
    });
  }

  /** Settles the request an `ok`/`err` frame answers; false when no request waits for that id. */
  answer(frame: { t: string; id?: number; code?: unknown; msg?: unknown; retryAfter?: unknown }): boolean {
    if (typeof frame.id !== "number") return false;
    if (this.expired.delete(frame.id)) return true;
    const p = this.pending.get(frame.id);
    if (!p) return false;
    this.pending.delete(frame.id);
    clearTimeout(p.timer);
    if (frame.t === "ok") p.resolve(frame as Answer);
    else p.reject(errorFromFrame(frame, p.ch));
    return true;
  }

  /** Rejects every waiting request (connection lost or client closed). */
  failAll(code: ErrorCode, message: string): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(new SwitchboardClientError(code, message, { ch: p.ch }));
    }
  }
}

/** Turns an `err` frame into the typed error. */
export function errorFromFrame(frame: { code?: unknown; msg?: unknown; retryAfter?: unknown }, ch?: string): SwitchboardClientError {
  const code = (typeof frame.code === "string" ? frame.code : "INTERNAL_ERROR") as ErrorCode;
  const msg = typeof frame.msg === "string" ? frame.msg : code;
  const retryAfter = typeof frame.retryAfter === "number" ? frame.retryAfter : undefined;
  return new SwitchboardClientError(code, msg, { retryAfter, ch });
}

import type { Hub } from "../../hub/hub.ts";
import { channelKey } from "../../hub/channel-policy.ts";
import type { Conn, Principal } from "../../hub/ports.ts";
import { encodeOk } from "../../protocol/encode.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import { encodeTyping, type TypingFrame } from "./chat-frames.ts";

/** How long a receiver shows a typing indicator without a refresh (announced in the frame). */
export const TYPING_EXPIRES_MS = 5000;
/** Typing's own budget per connection: a refresh every second or so, never the message budget. */
const RATE_PER_SEC = 2;
const BURST = 4;

interface Budget {
  tokens: number;
  at: number;
}

/**
 * Typing indicators as ephemeral signals: no offset, no history, nothing
 * stored, not echoed to the sender. Only connections subscribed to the
 * conversation may send them (the subscription already proved membership).
 * A budget is kept only for connections that ever sent one.
 */
export class TypingSignals {
  private readonly budgets = new WeakMap<Conn, Budget>();

  constructor(
    private readonly hub: Hub,
    private readonly ns: string,
  ) {}

  handle(conn: Conn, p: Principal, f: TypingFrame): void {
    const hub = this.hub;
    const wait = this.take(conn);
    if (wait > 0) throw new SwitchboardError("RATE_LIMIT_EXCEEDED", "too many typing signals; slow down", { retryAfter: wait });
    const c = hub.deps.policy.resolve(f.ch);
    if (c.ns !== this.ns) throw new SwitchboardError("BAD_REQUEST", `typing is for ${this.ns}: channels`);
    const key = channelKey(p.tenant, f.ch);
    if (!conn.isSubscribed(key)) throw new SwitchboardError("BAD_REQUEST", `subscribe to ${f.ch} before sending typing`);
    const frame = encodeTyping(f.ch, p.sub, hub.connId(conn), f.active ?? true, TYPING_EXPIRES_MS);
    // Here: every local subscriber but the sender. Other nodes: through the engine (the hub skips it here).
    hub.signalLocal(conn, key, frame);
    hub.deps.engine.signal(key, frame).catch((err) => hub.deps.logger.warn("typing signal failed", { err }));
    if (f.id !== undefined) hub.send(conn, encodeOk(f.id));
    if (hub.deps.logger.auditing) hub.deps.logger.audit("typing", { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, ch: f.ch });
  }

  /** Token bucket; answers 0 when allowed, else ms until the next token. */
  private take(conn: Conn): number {
    const now = this.hub.deps.clock.now();
    let b = this.budgets.get(conn);
    if (!b) this.budgets.set(conn, (b = { tokens: BURST, at: now }));
    b.tokens = Math.min(BURST, b.tokens + ((now - b.at) * RATE_PER_SEC) / 1000);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / RATE_PER_SEC);
  }
}

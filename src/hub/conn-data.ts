import type { ConnData, Principal } from "./ports.ts";

/**
 * A new connection's state (see ConnData): a full token bucket, no errors,
 * nothing subscribed; every field set here so that every connection's object
 * has one shape.
 */
export function freshConnData(id: number, now: number, burst: number, preauth: Principal | undefined, clientIp: string | undefined): ConnData {
  return {
    id,
    principal: undefined,
    tokens: burst,
    refillAt: now,
    errors: 0,
    errorsAt: now,
    subs: 0,
    present: null,
    userKey: "",
    flags: 0,
    preauth,
    early: null,
    openedAt: now,
    closing: false,
    seenAt: now,
    pingedAt: 0,
    clientIp,
  };
}

import { describe, expect, test } from "bun:test";
import { reconnectDecision } from "../../src/client/reconnect-policy.ts";

describe("reconnectDecision", () => {
  const now = 10_000;

  test("a refused or expired token ends the client unless getToken can renew it", () => {
    expect(reconnectDecision(4001, { renewableToken: false, now })).toEqual({ stop: true, why: "token refused" });
    expect(reconnectDecision(4003, { renewableToken: false, now })).toEqual({ stop: true, why: "token expired" });
    expect(reconnectDecision(4001, { renewableToken: true, now })).toEqual({ stop: false, cause: "token" });
    expect(reconnectDecision(4003, { renewableToken: true, now })).toEqual({ stop: false, cause: "token", delayMs: 0 });
  });

  test("a draining node's advice counts from its reconnect frame", () => {
    const advised = { at: now - 300, afterMs: 1000, reason: "draining" };
    expect(reconnectDecision(1012, { renewableToken: false, advised, now })).toEqual({ stop: false, cause: "server", delayMs: 700, reason: "draining" });
    expect(reconnectDecision(1006, { renewableToken: false, advised: { ...advised, afterMs: 100 }, now })).toMatchObject({ cause: "server", delayMs: 0 });
  });

  test("close 1000 (the server disconnected the user) ends the client, even with a renewable token or drain advice", () => {
    const advised = { at: now, afterMs: 100, reason: "draining" };
    expect(reconnectDecision(1000, { renewableToken: true, now })).toEqual({ stop: true, why: "closed by the server" });
    expect(reconnectDecision(1000, { renewableToken: false, advised, now })).toEqual({ stop: true, why: "closed by the server" });
  });

  test("anything else backs off", () => {
    for (const code of [1001, 1006, 1008, 1009, 1011, 1012]) {
      expect(reconnectDecision(code, { renewableToken: true, now })).toEqual({ stop: false, cause: "backoff" });
    }
    expect(reconnectDecision(4008, { renewableToken: true, now })).toEqual({ stop: false, cause: "backoff", refused: "LIMIT_EXCEEDED" });
  });
});

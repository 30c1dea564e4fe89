/**
 * The feature scenarios of the bench at quick size against a real
 * Switchboard (as bench-targets.test.ts does for chat): each produces its
 * figures, and nothing the load did was refused, lost or duplicated. No
 * timing is asserted; the bench prints those.
 */
import { describe, expect, test } from "bun:test";
import { CARE_OPS } from "../../bench/load/care-team-job.ts";
import { careTeamScenario } from "../../bench/scenarios/care-team.ts";
import { chatWebhooksScenario, WEBHOOK_VARIANTS, variantKey } from "../../bench/scenarios/chat-webhooks.ts";
import { targets } from "../../bench/targets.ts";

const ctx = { quick: true, workers: 1, log() {} };

describe("feature scenarios against a real Switchboard", () => {
  test("care-team: every operation of the mix is answered, every chat message reaches its whole team, every notification its recipient", async () => {
    const r = await careTeamScenario(targets.switchboard, ctx);
    expect(r.error).toBeUndefined();
    expect(r.flags).toEqual([]);
    expect(r.params.workers).toBe(2);
    for (const op of CARE_OPS) {
      expect(r.metrics[`${op}Acked`]).toBeGreaterThan(0);
      expect(r.metrics[`${op}Acked`]).toBe(r.metrics[`${op}Sent`]);
      expect(r.latency[op]!.count).toBe(r.metrics[`${op}Acked`]);
    }
    // Teams of 8: each acknowledged message was delivered 8 times (sender included).
    expect(r.metrics.chatExpected).toBe(r.metrics.chatAcked! * 8);
    expect(r.metrics.chatDelivered).toBe(r.metrics.chatExpected);
    expect(r.metrics.notifyDelivered).toBe(r.metrics.notifyAcked);
    expect(r.metrics.opsPerSec).toBeGreaterThan(0);
    expect(r.metrics.serverCpuUsPerOp).toBeGreaterThan(0);
  }, 120_000);

  test("chat-webhooks: the four variants each produce CPU per publication and a ratio to plain; the webhook of another namespace got its probe and no chat publication", async () => {
    const r = await chatWebhooksScenario(targets.switchboard, ctx);
    expect(r.error).toBeUndefined();
    // No attempt failed: a webhook variant whose probe never reached the receiver fails, and so would a refused setup.
    expect(r.notes.filter((n) => n.includes("failed"))).toEqual([]);
    // The only flag a shared machine may cause: the saturating chat's own honesty checks (clients closed on
    // backpressure, a drain cut short) on both attempts of a variant. A leaked webhook delivery is never tolerated.
    expect(r.flags!.filter((f) => !/^[a-z+]+: no clean round$/.test(f))).toEqual([]);
    const clean = WEBHOOK_VARIANTS.filter((v) => r.metrics[`${variantKey(v)}Rounds`] === 1);
    expect(clean.length).toBeGreaterThan(0);
    for (const v of WEBHOOK_VARIANTS) {
      if (!clean.includes(v)) {
        expect(r.notes.some((n) => n.startsWith(`${v} round 1 flagged, left out: `))).toBe(true);
        continue;
      }
      expect(r.metrics[`${variantKey(v)}CpuUsPerPub`]).toBeGreaterThan(0);
      expect(r.metrics[`${variantKey(v)}DeliveredPerSec`]).toBeGreaterThan(0);
    }
    if (clean.includes("plain") && clean.includes("webhook+status")) expect(Number.isFinite(r.metrics.bothCpuVsPlain)).toBe(true);
    expect(r.notes.some((n) => n.startsWith("round 1: "))).toBe(true);
  }, 240_000);

  test("chat-webhooks refuses a target that has no webhooks or presence status", async () => {
    const r = await chatWebhooksScenario(targets["bun-raw"], ctx);
    expect(r.ok).toBe(false);
    expect(r.error).toContain("switchboard dialect only");
  });
});

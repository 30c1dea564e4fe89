import { expect, test } from "bun:test";
import { runChaos } from "./run.ts";

/**
 * Issue 16 / DESIGN.md guarantees 1–3: a seeded chaos run on three nodes and
 * a Redis with `appendfsync always`. CHAOS_SEED reproduces a run's schedule
 * (it is printed); CHAOS_MESSAGES sets the budget (CI default below; the
 * soak in bench/soak/chaos.ts runs larger ones).
 */
const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const messages = Number(process.env.CHAOS_MESSAGES ?? 100_000);

test(`chaos: ${messages} publications through node kills, Redis stalls and kills, dropped clients (seed ${seed})`, async () => {
  const r = await runChaos({ seed, messages, channels: 40, publishers: 6, subscribers: 9, channelsPerSubscriber: 12, window: 32, log: (l) => console.log(l) });
  console.log(`chaos seed=${seed} result: ${JSON.stringify(r)}`);
  expect(r.sent).toBeGreaterThanOrEqual(messages);
  expect(r.faults["node-kill"]! + r.faults["redis-pause"]! + r.faults["redis-kill"]! + r.faults["client-drop"]!).toBeGreaterThanOrEqual(8);
  // Nothing acknowledged is lost; nothing is duplicated, invented, reordered, or silently skipped.
  expect(r.lost).toBe(0);
  expect(r.duplicated).toBe(0);
  expect(r.phantom).toBe(0);
  expect(r.mismatched).toBe(0);
  expect(r.silentGaps).toBe(0);
  // Nothing answered with an error was published after all (errored but delivered).
  expect(r.refusedPresent).toBe(0);
  expect(r.acked).toBeGreaterThan(messages * 0.8);
  expect(r.delivered).toBeGreaterThan(r.acked);
  // Back to baseline once the clients are gone.
  for (const f of r.footprints) {
    expect(f.end.fds, f.node).toBeLessThanOrEqual(f.baseline.fds + 10);
    expect(f.end.rssKiB, f.node).toBeLessThanOrEqual(f.baseline.rssKiB * 2 + 64 * 1024);
  }
  expect(r.harness.end).toBeLessThanOrEqual(r.harness.baseline + 10);
}, 300_000);

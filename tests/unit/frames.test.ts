import { expect, test } from "bun:test";
import * as v from "valibot";
import { ClientFrame, parseClientFrame } from "../../src/protocol/frames.ts";

/** The contract: valibot's schema, plus `data` being required on `pub`. */
function reference(x: unknown): { ok: true; frame: unknown } | { ok: false } {
  const r = v.safeParse(ClientFrame, x);
  if (!r.success) return { ok: false };
  if (r.output.t === "pub" && !("data" in (x as object))) return { ok: false };
  return { ok: true, frame: r.output };
}

// A small deterministic PRNG, so a failure names a reproducible case.
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
/** Mostly the first `valid` entries (well-formed values), sometimes any. */
const pickMostly = <T>(xs: readonly T[], valid: number): T => (rnd() < 0.75 ? xs[Math.floor(rnd() * valid)]! : pick(xs));

const IDS = [1, 7, 2 ** 53 - 1, 2 ** 53, 0, -1, 1.5, "1", null, true, 1e300];
const CHANNELS = ["room:1", "user:alice", "a:", ":x", "room", "room:a b", "room:ü", "x".repeat(64) + ":y", "x".repeat(65) + ":y", "room:" + "z".repeat(250), 5, null, ["room:1"]];
const SINCES = [undefined, "0", "123", "1".repeat(16), "1".repeat(17), "", "12a", 12, null];
const PRESENCE = [undefined, true, false, "true", 1, null];
const EVENTS = ["chat", "m", "a\"b", "a\\b", "é", "x".repeat(128), "x".repeat(129), "", "a\nb", 3, null];
const DATA = [undefined, 1, "s", null, { a: [1, 2] }, [], false];
const EXTRA = [undefined, ["x", 1], ["ok", false], ["__proto__", {}], ["t", "pub"]];

function candidate(): Record<string, unknown> {
  const t = pick(["sub", "pub"]);
  const o: Record<string, unknown> = { t, id: pickMostly(IDS, 3), ch: pickMostly(CHANNELS, 4) };
  if (t === "sub") {
    const since = pickMostly(SINCES, 4);
    const presence = pickMostly(PRESENCE, 3);
    if (since !== undefined) o.since = since;
    if (presence !== undefined) o.presence = presence;
  } else {
    const ev = pickMostly(EVENTS, 6);
    const data = pickMostly(DATA, 7);
    o.ev = ev;
    if (data !== undefined) o.data = data;
  }
  const extra = rnd() < 0.7 ? undefined : pick(EXTRA);
  if (extra) o[extra[0] as string] = extra[1];
  if (rnd() < 0.1) delete o[pick(["id", "ch", "ev"])];
  // Through JSON, like a frame off the wire.
  return JSON.parse(JSON.stringify(o));
}

test("the hand-written pub and sub checks accept exactly what the schema accepts (20,000 generated frames)", () => {
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    const x = candidate();
    const got = parseClientFrame(x);
    const want = reference(x);
    if (want.ok) {
      accepted++;
      expect({ i, got }).toEqual({ i, got: want.frame as never });
    } else {
      expect({ i, rejected: "ok" in got }).toEqual({ i, rejected: true });
    }
  }
  // The generator reaches both sides of the contract.
  expect(accepted).toBeGreaterThan(2000);
  expect(accepted).toBeLessThan(18_000);
});

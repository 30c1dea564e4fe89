import { Cron } from "croner";
import { SwitchboardError } from "../protocol/errors.ts";

/** When a job runs: once at a time, by a cron pattern in a time zone, or every `everyMs` from its first run. */
export type Schedule = { at: number } | { cron: string; tz: string } | { every: number; from: number };

const crons = new Map<string, Cron>();

function cronOf(pattern: string, tz: string): Cron {
  const k = tz + " " + pattern;
  let c = crons.get(k);
  if (!c) {
    try {
      c = new Cron(pattern, { timezone: tz, paused: true });
    } catch (err) {
      throw new SwitchboardError("VALIDATION_ERROR", `cron: ${(err as Error).message}`);
    }
    if (crons.size > 1000) crons.clear();
    crons.set(k, c);
  }
  return c;
}

/** Throws VALIDATION_ERROR for a time zone the runtime does not know (croner would silently use another). */
export function checkTimeZone(tz: string): void {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
  } catch {
    throw new SwitchboardError("VALIDATION_ERROR", `tz: unknown time zone ${JSON.stringify(tz)}`);
  }
}

/** The first due time strictly after `afterMs`; null when a one-shot schedule has none left. */
export function nextDue(s: Schedule, afterMs: number): number | null {
  if ("at" in s) return s.at > afterMs ? s.at : null;
  if ("every" in s) {
    if (afterMs < s.from) return s.from;
    return s.from + (Math.floor((afterMs - s.from) / s.every) + 1) * s.every;
  }
  return cronOf(s.cron, s.tz).nextRun(new Date(afterMs))?.getTime() ?? null;
}

/** The first due time of a new job created at `nowMs` (a past `at` is due at once). */
export function firstDue(s: Schedule, nowMs: number): number | null {
  if ("at" in s) return s.at;
  if ("every" in s) return s.from;
  return nextDue(s, nowMs);
}

/** How many due times after `dueMs` are also already past at `nowMs` (runs missed while nobody ran the job), up to `cap`. */
export function missedSince(s: Schedule, dueMs: number, nowMs: number, cap = 10_000): number {
  if ("at" in s) return 0;
  if ("every" in s) return Math.min(cap, Math.max(0, Math.floor((nowMs - dueMs) / s.every)));
  let n = 0;
  let t = dueMs;
  for (;;) {
    const next = nextDue(s, t);
    if (next === null || next > nowMs || n >= cap) return n;
    n++;
    t = next;
  }
}

export function isRecurring(s: Schedule): boolean {
  return !("at" in s);
}

/** The schedule as the API shows it. */
export function describeSchedule(s: Schedule): Record<string, unknown> {
  if ("at" in s) return { at: new Date(s.at).toISOString() };
  if ("every" in s) return { everyMs: s.every };
  return { cron: s.cron, tz: s.tz };
}

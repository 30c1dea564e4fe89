/** Dates and times as a person reads them, in the report's time zone. */

const cache = new Map<string, Intl.DateTimeFormat>();

function format(key: string, make: () => Intl.DateTimeFormat): Intl.DateTimeFormat {
  let f = cache.get(key);
  if (!f) cache.set(key, (f = make()));
  return f;
}

/** "30 Nov 2026" for a calendar date (YYYY-MM-DD, no time zone involved). */
export function formatDate(date: string): string {
  return format("date", () => new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" })).format(new Date(`${date}T00:00:00Z`));
}

/** "30 Nov 2026, 14:05" in `timeZone`. */
export function formatDateTime(at: string | number | Date, timeZone: string): string {
  return format(`dt:${timeZone}`, () => new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone })).format(new Date(at));
}

/** "14:05" in `timeZone`. */
export function formatTime(at: string | number | Date, timeZone: string): string {
  return format(`t:${timeZone}`, () => new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone })).format(new Date(at));
}

/** The calendar date (YYYY-MM-DD) of an instant in `timeZone`. */
export function localDate(at: string | number | Date, timeZone: string): string {
  return format(`d:${timeZone}`, () => new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit", timeZone })).format(new Date(at));
}

/** "30 Nov 2026, 14:05 EST (America/New_York)": when a report was generated. */
export function formatGenerated(at: number, timeZone: string): string {
  const zone = format(`z:${timeZone}`, () => new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "short" }))
    .formatToParts(new Date(at))
    .find((p) => p.type === "timeZoneName")?.value;
  return `${formatDateTime(at, timeZone)} ${zone ?? ""} (${timeZone})`.replace("  ", " ");
}

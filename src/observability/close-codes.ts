/**
 * Close codes as metric labels: clients choose their own codes (any of
 * 1000–4999), and each distinct value would become a new time series.
 * Codes the protocol or RFC 6455 gives a meaning keep their number; the
 * rest fall into one bucket per range.
 */
const KNOWN: ReadonlySet<number> = new Set([1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 4001, 4003, 4008]);

export function closeCodeLabel(code: number): string {
  if (KNOWN.has(code)) return String(code);
  if (code >= 3000 && code <= 3999) return "3xxx";
  if (code >= 4000 && code <= 4999) return "4xxx";
  return "other";
}

/**
 * Latency recording in microseconds with hdr-histogram-js (3 significant
 * digits), plus the summary every report prints. Workers ship their
 * histograms to the coordinator as compressed base64 and it merges them.
 */
import * as hdr from "hdr-histogram-js";

export type Histogram = hdr.Histogram;

export interface LatencySummary {
  count: number;
  /** All figures in milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

/**
 * Records one latency; a negative value (clock skew between processes) is
 * recorded as 0 and reported: returns true then, so the caller can count
 * clamped samples and the run can be flagged instead of looking fast.
 */
export function recordMicros(h: Histogram, us: number): boolean {
  h.recordValue(us < 0 ? 0 : Math.round(us));
  return us < 0;
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function mergeHistograms(encoded: string[]): Histogram {
  const total = newHistogram();
  for (const e of encoded) {
    if (!e) continue;
    total.add(hdr.decodeFromCompressedBase64(e));
  }
  return total;
}

const ms = (us: number) => Math.round(us) / 1000;

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

/** Percentile curve for charts: [percentile, ms] pairs on a log-ish scale. */
export function percentileCurve(h: Histogram): [number, number][] {
  const ps = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];
  if (h.totalCount === 0) return [];
  return ps.map((p) => [p, ms(p === 100 ? h.maxValue : h.getValueAtPercentile(p))]);
}

import type { Publisher, Subscriber } from "./actors.ts";

/**
 * What a chaos run must show. `truth` is each channel's whole history as
 * the cluster holds it at the end, in offset order.
 */
export interface Verdict {
  acked: number;
  /** Answers lost with their connection (the publish may or may not have happened). */
  unknown: number;
  /** Publishes answered with an error. */
  refused: number;
  /**
   * Publishes answered with an error that are in the history anyway
   * ("errored but delivered"). An error answer promises nothing was
   * published, so this must be 0: when Redis' reply is lost the node learns
   * the outcome from the publish's marker (or fences it) before it answers.
   */
  refusedPresent: number;
  /** Publishes the node answered "outcome unknown" (Redis stayed out of reach past the in-doubt wait). */
  outcomeUnknown: number;
  unknownPresent: number;
  /** Acknowledged publications missing from history (or at another offset). */
  lost: number;
  /** Publications in history twice, or delivered twice to one subscriber. */
  duplicated: number;
  /** History entries nobody sent. */
  phantom: number;
  /** Deliveries that do not match history at their offset (wrong order or content). */
  mismatched: number;
  /** Messages a subscriber never got although no recovered:false covered them. */
  silentGaps: number;
  /** recovered:false answers subscribers were given (each a range it was told about). */
  recoveredRanges: number;
  /** Messages delivered to subscribers in total. */
  delivered: number;
}

export function verify(truth: Map<string, { off: string; id: string }[]>, publishers: Publisher[], subscribers: Subscriber[]): Verdict {
  const v: Verdict = { acked: 0, unknown: 0, refused: 0, refusedPresent: 0, unknownPresent: 0, outcomeUnknown: 0, lost: 0, duplicated: 0, phantom: 0, mismatched: 0, silentGaps: 0, recoveredRanges: 0, delivered: 0 };
  const byOff = new Map<string, Map<string, string>>();
  const where = new Map<string, string>();
  for (const [ch, list] of truth) {
    const m = new Map<string, string>();
    for (const e of list) {
      m.set(e.off, e.id);
      if (where.has(e.id)) v.duplicated++;
      where.set(e.id, ch + "@" + e.off);
    }
    byOff.set(ch, m);
  }
  const sentIds = new Set<string>();
  for (const p of publishers) {
    for (const [id, o] of p.outcomes) {
      sentIds.add(id);
      if (o.kind === "acked") {
        v.acked++;
        if (byOff.get(o.ch)?.get(o.off) !== id) v.lost++;
      } else if (o.kind === "refused") {
        v.refused++;
        if (where.has(id)) v.refusedPresent++;
      } else {
        v.unknown++;
        if (o.code === "INTERNAL_ERROR") v.outcomeUnknown++;
        if (where.has(id)) v.unknownPresent++;
      }
    }
  }
  for (const id of where.keys()) if (!sentIds.has(id)) v.phantom++;

  for (const s of subscribers) {
    for (const ch of s.channels) {
      const got = s.received.get(ch)!;
      const hist = byOff.get(ch)!;
      v.delivered += got.length;
      const gaps = s.gaps.get(ch)!;
      v.recoveredRanges += gaps.length;
      let prev = -1n;
      const seen = new Set<string>();
      for (const r of got) {
        const off = BigInt(r.off);
        if (off <= prev || seen.has(r.id)) v.duplicated++;
        prev = off > prev ? off : prev;
        seen.add(r.id);
        if (hist.get(r.off) !== r.id) v.mismatched++;
      }
      const start = BigInt(s.startOff.get(ch) ?? "0");
      const gotOffs = new Set(got.map((r) => r.off));
      for (const e of truth.get(ch)!) {
        const off = BigInt(e.off);
        if (off <= start || gotOffs.has(e.off)) continue;
        const told = gaps.some((g) => BigInt(g.since) < off && off <= BigInt(g.off));
        if (!told) v.silentGaps++;
      }
    }
  }
  return v;
}

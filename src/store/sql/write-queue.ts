import type { SqlStatement } from "./driver.ts";

interface Queued {
  statements: SqlStatement[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Writes queued during one event-loop turn, committed together in one
 * transaction after it (like the engine's embedded history): one commit per
 * turn instead of one per write. Every waiter learns the batch's outcome.
 */
export class WriteQueue {
  private queued: Queued[] = [];
  private scheduled = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly commit: (statements: SqlStatement[]) => Promise<void>) {}

  push(statements: SqlStatement[]): Promise<void> {
    const w = Promise.withResolvers<void>();
    this.queued.push({ statements, resolve: w.resolve, reject: w.reject });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return w.promise;
  }

  /** Resolves once everything queued so far is committed or failed. */
  async drain(): Promise<void> {
    while (this.scheduled || this.queued.length > 0) {
      this.flush();
      await this.running;
    }
    await this.running;
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.queued;
    if (batch.length === 0) return;
    this.queued = [];
    const statements = coalesce(batch);
    // Batches commit one after another, so a later write never overtakes an earlier one.
    this.running = this.running.then(() =>
      this.commit(statements).then(
        () => {
          for (const q of batch) q.resolve();
        },
        (err) => {
          for (const q of batch) q.reject(err);
        },
      ),
    );
  };
}

/** Rows per merged INSERT: well below SQLite's and PostgreSQL's bound-parameter limits. */
const MAX_MERGED_ROWS = 400;

/**
 * One batch's statements with one-row INSERTs of the same shape merged into
 * multi-row INSERTs and superseded "raise to" updates dropped: a batch of
 * 200 chat messages is a handful of statements instead of 400 (the
 * figures are in the commit that added this).
 */
export function coalesce(batch: readonly { statements: SqlStatement[] }[]): SqlStatement[] {
  const out: SqlStatement[] = [];
  const merged = new Map<string, { into: SqlStatement; rows: number; row: string }>();
  const tails: { into: SqlStatement; tail: string }[] = [];
  const lastAt = new Map<string, number>();
  for (const q of batch) {
    for (const s of q.statements) {
      if (s.last !== undefined) {
        const at = lastAt.get(s.last);
        if (at !== undefined) out[at] = s;
        else {
          lastAt.set(s.last, out.length);
          out.push(s);
        }
        continue;
      }
      if (s.merge === undefined) {
        out.push(s);
        continue;
      }
      const m = merged.get(s.merge);
      if (m && m.rows < MAX_MERGED_ROWS) {
        m.into.sql += ", " + m.row;
        for (const p of s.params) m.into.params.push(p);
        m.rows++;
        continue;
      }
      const row = "(" + s.params.map(() => "?").join(", ") + ")";
      const into: SqlStatement = { sql: s.merge + " VALUES " + row, params: [...s.params] };
      merged.set(s.merge, { into, rows: 1, row });
      if (s.mergeTail) tails.push({ into, tail: s.mergeTail });
      out.push(into);
    }
  }
  // The tail (e.g. ON CONFLICT DO NOTHING) goes after the last row.
  for (const { into, tail } of tails) into.sql += " " + tail;
  return out;
}

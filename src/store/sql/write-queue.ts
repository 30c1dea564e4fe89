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
    const statements: SqlStatement[] = [];
    for (const q of batch) for (const s of q.statements) statements.push(s);
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

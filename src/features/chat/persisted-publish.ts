import type { ChannelOptions, Engine, PublicationInput } from "../../engine/engine.ts";
import { encodeMsg } from "../../protocol/encode.ts";
import type { Logger } from "../../observability/logger.ts";
import type { Store } from "../../store/ports.ts";

/**
 * How long a node may hold a conversation's next offsets while it commits
 * their records. Longer than a store commit can take before it fails
 * (DATABASE_TIMEOUT_MS, 2 s by default, plus a batch queued before it);
 * it only matters when a node dies holding them: the other nodes wait this
 * long, then take over.
 */
const HOLD_MS = 8000;
/** Most publications in one batch (one store transaction, one engine script); the rest go in the next. */
const MAX_BATCH = 256;

interface Waiting {
  pub: PublicationInput;
  resolve(off: string): void;
  reject(err: unknown): void;
}

interface Batch {
  tenant: string;
  conversation: string;
  options: ChannelOptions;
  expiresMs(pub: PublicationInput): number | null;
  waiting: Waiting[];
}

/**
 * Chat publications, record first: per conversation, the publications that
 * arrived while the previous batch was on its way go together; the engine
 * holds their offsets (Engine.publishCommitted), the store commits them
 * under those offsets, and only then does the engine publish them. So a
 * subscriber never gets a message that is not committed, and an `ok` is
 * never sent for one that is not.
 */
export class PersistedPublish {
  private readonly next = new Map<string, Batch>();
  private readonly busy = new Set<string>();

  constructor(
    private readonly engine: () => Engine,
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  publish(key: string, batch: Omit<Batch, "waiting">, pub: PublicationInput): Promise<string> {
    const w = Promise.withResolvers<string>();
    let b = this.next.get(key);
    if (!b) this.next.set(key, (b = { ...batch, waiting: [] }));
    b.waiting.push({ pub, resolve: w.resolve, reject: w.reject });
    if (!this.busy.has(key)) void this.drain(key);
    return w.promise;
  }

  private async drain(key: string): Promise<void> {
    this.busy.add(key);
    try {
      for (let b = this.next.get(key); b; b = this.next.get(key)) {
        if (b.waiting.length > MAX_BATCH) {
          await this.run(key, { ...b, waiting: b.waiting.splice(0, MAX_BATCH) });
          continue;
        }
        this.next.delete(key);
        await this.run(key, b);
      }
    } finally {
      this.busy.delete(key);
    }
  }

  private async run(key: string, b: Batch): Promise<void> {
    const pubs = b.waiting.map((w) => w.pub);
    let committed: readonly string[] | undefined;
    try {
      const offs = await this.engine().publishCommitted(key, pubs, b.options, async (offs) => {
        await Promise.all(pubs.map((p, i) => this.store.putMessage(b.tenant, b.conversation, { off: Number(offs[i]), ev: p.ev, data: p.data, from: p.from ?? null, ts: p.ts }, b.expiresMs(p))));
        committed = offs;
      }, HOLD_MS);
      b.waiting.forEach((w, i) => w.resolve(offs[i]!));
    } catch (err) {
      if (committed && (await this.publishedAnyway(key, b, pubs, committed))) {
        b.waiting.forEach((w, i) => w.resolve(committed![i]!));
        return;
      }
      for (const w of b.waiting) w.reject(err);
    }
  }

  /**
   * The records were committed but the engine failed: find out whether it
   * published them after all (a reply lost on the way). If it did not, and
   * nobody took those offsets over, the records go (they were never
   * acknowledged); when the engine cannot tell, they stay, and a later batch
   * under the same offsets replaces them.
   */
  private async publishedAnyway(key: string, b: Batch, pubs: readonly PublicationInput[], offs: readonly string[]): Promise<boolean> {
    try {
      const h = await this.engine().history(key, { since: String(BigInt(offs[0]!) - 1n), limit: offs.length }, b.options);
      if (h.frames.length === offs.length && h.frames.every((f, i) => f === encodeMsg(pubs[i]!, offs[i]!))) return true;
      if (BigInt(h.off) < BigInt(offs[0]!)) await this.store.deleteMessages(b.tenant, b.conversation, offs.map(Number));
    } catch (err) {
      this.logger.warn("chat publish in doubt: records kept until their offsets are used again", { err, key, count: offs.length });
    }
    return false;
  }
}

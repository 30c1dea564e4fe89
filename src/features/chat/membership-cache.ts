import type { Store } from "../../store/ports.ts";

/** How long a positive membership answer is trusted without asking the store again. */
const TTL_MS = 30_000;
const MAX_ENTRIES = 50_000;

/**
 * Positive membership answers, per node: a publish to a conversation would
 * otherwise cost a store round trip (a PostgreSQL query) every time. A
 * removal reaches every node as the chat control message that also ends the
 * removed users' subscriptions, and drops their entries there at the same
 * moment; the TTL bounds the damage should that message be lost.
 */
export class MembershipCache {
  private readonly members = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  async isMember(tenant: string, conversation: string, user: string): Promise<boolean> {
    const key = tenant + "\u0000" + conversation + "\u0000" + user;
    const until = this.members.get(key);
    if (until !== undefined && until > this.now()) return true;
    const yes = await this.store.isMember(tenant, conversation, user);
    if (yes) {
      if (this.members.size >= MAX_ENTRIES) this.members.clear();
      this.members.set(key, this.now() + TTL_MS);
    } else this.members.delete(key);
    return yes;
  }

  forget(tenant: string, conversation: string, users: readonly string[]): void {
    for (const user of users) this.members.delete(tenant + "\u0000" + conversation + "\u0000" + user);
  }
}

import { describe, expect, test } from "bun:test";
import type { Message } from "../../src/client/index.ts";
import { Subscription } from "../../src/client/subscription.ts";

const msg = (off: string | undefined, data: unknown): Message => ({ ch: "room:a", ev: "e", data, ts: 1, ...(off ? { off } : {}) });

describe("Subscription", () => {
  test("delivers each offset once and drops older or repeated ones", () => {
    const got: unknown[] = [];
    const sub = new Subscription("room:a", (m) => got.push(m.data), {}, () => {});
    sub.deliver(msg("1", "a"));
    sub.deliver(msg("2", "b"));
    sub.deliver(msg("2", "b again"));
    sub.deliver(msg("1", "a again"));
    sub.deliver(msg("10", "c"));
    sub.deliver(msg("9", "late"));
    expect(got).toEqual(["a", "b", "c"]);
    expect(sub.lastOffset).toBe("10");
  });

  test("messages without an offset (no history) are always delivered", () => {
    const got: unknown[] = [];
    const sub = new Subscription("room:a", (m) => got.push(m.data), {}, () => {});
    sub.deliver(msg(undefined, 1));
    sub.deliver(msg(undefined, 1));
    expect(got).toEqual([1, 1]);
  });

  test("`since` is the first resume point and dedup threshold", () => {
    const got: unknown[] = [];
    const sub = new Subscription("room:a", (m) => got.push(m.data), { since: "5", presence: true }, () => {});
    expect(sub.subscribeFields()).toEqual({ ch: "room:a", since: "5", presence: true });
    sub.deliver(msg("5", "old"));
    sub.deliver(msg("6", "new"));
    expect(got).toEqual(["new"]);
  });

  test("resumes after the newer of the last delivered offset and the subscribe answer", async () => {
    const sub = new Subscription("room:a", () => {}, {}, () => {});
    expect(sub.subscribeFields()).toEqual({ ch: "room:a" });
    sub.subscribed({ off: "7", recovered: true, missed: 0 }, undefined);
    expect((await sub.ready).off).toBe("7");
    expect(sub.subscribeFields()).toEqual({ ch: "room:a", since: "7" });
    sub.deliver(msg("8", 1));
    expect(sub.subscribeFields()).toEqual({ ch: "room:a", since: "8" });
  });

  test("a failed recovery is reported with what was asked and where delivery continues", () => {
    const failures: unknown[] = [];
    const results: unknown[] = [];
    const sub = new Subscription("room:a", () => {}, { onRecoveryFailed: (f) => failures.push(f), onSubscribed: (r) => results.push(r) }, () => {});
    sub.subscribed({ off: "3", recovered: true, missed: 0 }, undefined);
    sub.connectionLost();
    expect(sub.state).toBe("subscribing");
    const reported = sub.subscribed({ off: "250", recovered: false, missed: 100 }, "3");
    expect(reported).toEqual({ ch: "room:a", since: "3", off: "250" });
    expect(failures).toEqual([{ ch: "room:a", since: "3", off: "250" }]);
    expect(results).toEqual([
      { ch: "room:a", off: "3", recovered: true, missed: 0, resubscribed: false },
      { ch: "room:a", off: "250", recovered: false, missed: 100, resubscribed: true },
    ]);
  });

  test("unsubscribing before the first answer rejects ready and stops delivery", async () => {
    let detached = 0;
    const got: unknown[] = [];
    const sub = new Subscription("room:a", (m) => got.push(m), {}, () => detached++);
    sub.unsubscribe();
    sub.unsubscribe();
    sub.deliver(msg("1", 1));
    expect(detached).toBe(1);
    expect(got).toEqual([]);
    await expect(sub.ready).rejects.toMatchObject({ code: "CLOSED", ch: "room:a" });
  });

  test("offsets that went backwards (history wiped) reset the threshold and count as a failed recovery", () => {
    const got: unknown[] = [];
    const failures: unknown[] = [];
    const sub = new Subscription("room:a", (m) => got.push(m.data), { onRecoveryFailed: (f) => failures.push(f) }, () => {});
    sub.subscribed({ off: "0", recovered: true, missed: 0 }, undefined);
    sub.deliver(msg("41", "before"));
    sub.connectionLost();
    sub.subscribed({ off: "2", recovered: false, missed: 0 }, "41");
    expect(failures).toEqual([{ ch: "room:a", since: "41", off: "2" }]);
    sub.deliver(msg("2", "stale"));
    sub.deliver(msg("3", "after"));
    expect(got).toEqual(["before", "after"]);
    expect(sub.lastOffset).toBe("3");
  });
});

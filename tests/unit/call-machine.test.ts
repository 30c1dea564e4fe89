import { describe, expect, test } from "bun:test";
import { accept, add, cancel, dropped, due, endByServer, hangup, leave, newCall, nextDeadline, reject, rejoin } from "../../src/features/calls/call-machine.ts";

const call = () => newCall("c1", "doc", ["pat", "ann"], "video", null, "A.1", 0, 30_000);
const states = (c: ReturnType<typeof call>) => c.participants.map((p) => p.state);

describe("the call lifecycle", () => {
  test("first accept makes the call live; a second device of the same user is refused", () => {
    const t = accept(call(), "pat", "B.1", 100);
    expect(t.call).toMatchObject({ state: "live", answeredMs: 100 });
    expect(t.events).toEqual([{ ev: "accepted", user: "pat" }]);
    expect(() => accept(t.call, "pat", "C.1", 200)).toThrow("answered elsewhere");
  });

  test("ring timeout: a ringing call ends missed for every invitee; a live one only misses those still ringing", () => {
    expect(due(call(), 29_999)).toBeUndefined();
    const t = due(call(), 30_000)!;
    expect(t.missed).toEqual(["pat", "ann"]);
    expect(t.call).toMatchObject({ state: "ended", outcome: "missed", endReason: "ring timeout" });
    const live = accept(call(), "pat", "B.1", 100).call;
    const later = due(live, 30_000)!;
    expect(later.missed).toEqual(["ann"]);
    expect(later.call.state).toBe("live");
    expect(nextDeadline(later.call)).toBeNull();
  });

  test("all invitees rejecting ends the call rejected; cancel only before an answer and only by the caller", () => {
    const r = reject(reject(call(), "pat", 1).call, "ann", 2);
    expect(r.call).toMatchObject({ state: "ended", outcome: "rejected", endedBy: "ann" });
    expect(() => cancel(call(), "pat", 1)).toThrow("only the caller");
    expect(cancel(call(), "doc", 1).call).toMatchObject({ outcome: "cancelled" });
    expect(states(cancel(call(), "doc", 1).call)).toEqual(["left", "cancelled", "cancelled"]);
    expect(() => cancel(accept(call(), "pat", "B.1", 1).call, "doc", 2)).toThrow("hang up instead");
  });

  test("a dropped device is held for the grace period; rejoin resumes; expiry leaves, fewer than two ends the call", () => {
    let c = accept(call(), "pat", "B.1", 100).call;
    c = reject(c, "ann", 150).call;
    expect(dropped(c, "X.9", 200, 5000)).toBeUndefined();
    const away = dropped(c, "B.1", 200, 5000)!.call;
    expect(states(away)).toEqual(["joined", "away", "rejected"]);
    expect(nextDeadline(away)).toBe(5200);
    expect(states(rejoin(away, "pat", "C.4", 300).call)).toEqual(["joined", "joined", "rejected"]);
    const gone = due(away, 5200)!;
    expect(gone.call).toMatchObject({ state: "ended", outcome: "failed", endReason: "connection lost" });
  });

  test("in a group call a leave keeps the call going until fewer than two remain; hangup ends it for all", () => {
    let c = accept(call(), "pat", "B.1", 1).call;
    c = accept(c, "ann", "C.1", 2).call;
    c = leave(c, "ann", 3).call;
    expect(c.state).toBe("live");
    c = rejoin(c, "ann", "C.2", 4).call;
    const h = hangup(c, "ann", 5);
    expect(h.call).toMatchObject({ state: "ended", outcome: "answered", endedBy: "ann" });
    expect(states(h.call)).toEqual(["left", "left", "left"]);
  });

  test("people added to a live call ring on their own deadline; the others' call goes on when they miss it; the rejected ring again", () => {
    expect(() => add(call(), "doc", ["zed"], 10, 5000, 16)).toThrow("not answered yet");
    let c = reject(accept(call(), "pat", "B.1", 100).call, "ann", 200).call;
    const t = add(c, "pat", ["zed", "ann", "doc", "pat"], 1000, 5000, 16);
    expect(t.events).toEqual([{ ev: "ringing", user: "zed" }, { ev: "ringing", user: "ann" }]);
    c = t.call;
    expect(states(c)).toEqual(["joined", "joined", "ringing", "ringing"]);
    expect(nextDeadline(c)).toBe(6000);
    expect(due(c, 5999)).toBeUndefined();
    c = accept(c, "ann", "C.1", 2000).call;
    const late = due(c, 6000)!;
    expect(late.missed).toEqual(["zed"]);
    expect(late.call.state).toBe("live");
    expect(() => add(late.call, "doc", ["pat"], 7000, 5000, 16)).toThrow("everyone named");
    expect(() => add(late.call, "doc", ["x", "y"], 7000, 5000, 4)).toThrow("at most 4 invitees");
    expect(() => add(late.call, "nurse", ["x"], 7000, 5000, 16)).toThrow("not a participant");
  });

  test("the server ends a call: answered when it was live, cancelled while ringing, named by whom the backend says", () => {
    const live = endByServer(accept(call(), "pat", "B.1", 1).call, "nurse", "visit closed", 2);
    expect(live.call).toMatchObject({ state: "ended", outcome: "answered", endedBy: "nurse", endReason: "visit closed" });
    expect(states(live.call)).toEqual(["left", "left", "missed"]);
    const ringing = endByServer(call(), null, "ended by the server API", 2);
    expect(ringing.call).toMatchObject({ outcome: "cancelled", endedBy: null });
    expect(states(ringing.call)).toEqual(["left", "cancelled", "cancelled"]);
    expect(() => endByServer(ringing.call, null, "again", 3)).toThrow("has ended");
  });
});

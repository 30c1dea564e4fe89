import { expect, test } from "bun:test";
import { DeliveryRing, RING_SIZE } from "../../src/transport/socketio/delivery-ring.ts";
import { lastSequence, resumeOffset } from "../../src/transport/socketio/recovery-point.ts";

test("the ring keeps the last RING_SIZE deliveries and says when older ones fell out", () => {
  const ring = new DeliveryRing();
  for (let seq = 1; seq <= 10; seq++) ring.push(seq, String(seq * 10));
  expect(ring.after(7)).toEqual({ entries: [[8, "80"], [9, "90"], [10, "100"]], complete: true });
  for (let seq = 11; seq <= RING_SIZE + 20; seq++) ring.push(seq, String(seq * 10));
  const all = ring.after(0);
  expect(all.complete).toBe(false);
  expect(all.entries.length).toBe(RING_SIZE);
  expect(all.entries[0]).toEqual([21, "210"]);
  expect(all.entries.at(-1)).toEqual([RING_SIZE + 20, String((RING_SIZE + 20) * 10)]);
  expect(ring.after(20).complete).toBe(true);
});

test("a channel resumes after the last delivery the client got, or not at all when that cannot be known", () => {
  const ch = { ch: "room:1", base: "5", sent: [[11, "6"], [14, "7"], [20, "8"]] as [number, string][], complete: true };
  expect(resumeOffset(ch, -Infinity)).toBe("5");
  expect(resumeOffset(ch, 10)).toBe("5");
  expect(resumeOffset(ch, 14)).toBe("7");
  expect(resumeOffset(ch, 19)).toBe("7");
  expect(resumeOffset(ch, 99)).toBe("8");
  const cut = { ...ch, complete: false };
  expect(resumeOffset(cut, 10)).toBeUndefined();
  expect(resumeOffset(cut, 14)).toBe("7");
  expect(resumeOffset(cut, -Infinity)).toBe("5");
  const record = { user: "u", epoch: "n1.abc.", chs: [ch] };
  expect(lastSequence(record, "n1.abc.42")).toBe(42);
  expect(lastSequence(record, "n2.xyz.42")).toBe(-Infinity);
  expect(lastSequence(record, "n1.abc.4x")).toBe(-Infinity);
  expect(lastSequence(record, undefined)).toBe(-Infinity);
});

import { expect, test } from "bun:test";
import { encodeMsg } from "../../src/protocol/encode.ts";
import { publicationParts } from "../../src/transport/socketio/publication-args.ts";
import { decodeSocketPacket, PacketError } from "../../src/transport/socketio/socket-packets.ts";

/** What a Socket.IO client's listener gets for a publication: (ev, data, meta). */
function asEvent(frame: string): unknown[] {
  const p = publicationParts(frame)!;
  return JSON.parse("[" + p.ev + "," + p.args + "]");
}

test("a native msg frame becomes the event's (name, data, meta) without touching the payload", () => {
  const cases: [string, unknown, string | undefined][] = [
    ["chat", { text: "hi" }, "alice"],
    ["odd \"name\"", "a string ending in a quote\"", undefined],
    ["tricky", { from: "x", ts: 1, note: ',"from":"y","ts":2' }, undefined],
    ["tricky", ["a", "from"], 'we\\ird"user'],
    ["null", null, "u"],
  ];
  for (const [ev, data, from] of cases) {
    const frame = encodeMsg({ ch: "room:1", ev, data: JSON.stringify(data), ts: 42, ...(from === undefined ? {} : { from }) }, "7");
    const meta = from === undefined ? { ch: "room:1", off: "7", ts: 42 } : { ch: "room:1", off: "7", from, ts: 42 };
    expect(asEvent(frame)).toEqual([ev, data, meta]);
  }
  expect(asEvent(encodeMsg({ ch: "call:x", ev: "ring", data: "1", ts: 5 }, undefined))).toEqual(["ring", 1, { ch: "call:x", ts: 5 }]);
});

test("Socket.IO packets decode with namespace and ack id; malformed ones are refused", () => {
  expect(decodeSocketPacket('2/events,12["subscribe",{"ch":"case:1"}]')).toEqual({ type: 2, nsp: "/events", id: 12, data: ["subscribe", { ch: "case:1" }] });
  expect(decodeSocketPacket('0{"token":"t"}')).toEqual({ type: 0, nsp: "/", id: undefined, data: { token: "t" } });
  expect(decodeSocketPacket("1/messaging,")).toEqual({ type: 1, nsp: "/messaging", id: undefined, data: undefined });
  expect(decodeSocketPacket('51-3["up",{"_placeholder":true,"num":0}]')).toMatchObject({ type: 5, id: 3 });
  for (const bad of ["9[]", "", '2["x"', "2" + "9".repeat(12) + "[]", "5x"]) expect(() => decodeSocketPacket(bad)).toThrow(PacketError);
});

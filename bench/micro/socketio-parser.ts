/**
 * Per-packet cost of the Socket.IO endpoint's framing, hand-written
 * (src/transport/socketio/) against the official engine.io-parser +
 * socket.io-parser (devDependencies through socket.io):
 *   decode: a client `publish` event as it arrives on the WebSocket;
 *   encode: a native `msg` frame re-framed as `42["m",data,meta,"<offset>"]`
 *           (the official encoder needs the payload as objects, so its cost
 *           includes parsing the frame).
 * Usage: node_modules/.bin/bun bench/micro/socketio-parser.ts   (N=packets per run, default 300000)
 */
import { decodePacket, encodePacket } from "engine.io-parser";
import { Decoder, Encoder, PacketType } from "socket.io-parser";
import { encodeMsg } from "../../src/protocol/encode.ts";
import { publicationParts } from "../../src/transport/socketio/publication-args.ts";
import { decodeSocketPacket, eventHead } from "../../src/transport/socketio/socket-packets.ts";

const N = Number(process.env.N ?? 300_000);
const incoming = '4212["publish",{"ch":"room:bench","ev":"m","data":"hello from 3 #12"}]';
const frame = encodeMsg({ ch: "room:bench", ev: "m", data: JSON.stringify({ text: "hello from 3 #12", n: 12 }), from: "u3", ts: Date.now() }, "4711");

function time(name: string, f: (i: number) => unknown): number {
  for (let i = 0; i < 20_000; i++) f(i);
  const t0 = performance.now();
  let sink = 0;
  for (let i = 0; i < N; i++) sink += f(i) ? 1 : 0;
  const ns = ((performance.now() - t0) * 1e6) / N;
  process.stdout.write(`${name.padEnd(34)} ${ns.toFixed(0).padStart(6)} ns/packet${sink < 0 ? "" : ""}\n`);
  return ns;
}

const decoder = new Decoder();
let decoded: unknown;
decoder.on("decoded", (p: unknown) => (decoded = p));
const handDecode = time("decode, hand-written", () => {
  const text = incoming;
  return text.charCodeAt(0) === 52 && decodeSocketPacket(text.slice(1));
});
const officialDecode = time("decode, engine.io + socket.io-parser", () => {
  const p = decodePacket(incoming);
  decoder.add(p.data as string);
  return decoded;
});

const encoder = new Encoder();
const head = eventHead("/");
let seq = 0;
const handEncode = time("encode, hand-written", () => {
  const p = publicationParts(frame)!;
  return head + p.ev + "," + p.args + ',"n.1.' + ++seq + '"]';
});
const officialEncode = time("encode, engine.io + socket.io-parser", () => {
  const m = JSON.parse(frame) as { ch: string; off: string; ev: string; data: unknown; from: string; ts: number };
  const [text] = encoder.encode({ type: PacketType.EVENT, nsp: "/", data: [m.ev, m.data, { ch: m.ch, off: m.off, from: m.from, ts: m.ts }, "n.1." + ++seq] });
  let out = "";
  encodePacket({ type: "message", data: text as string }, false, (s) => (out = s as string));
  return out;
});
process.stdout.write(`official ÷ hand-written: decode ${(officialDecode / handDecode).toFixed(2)}×, encode ${(officialEncode / handEncode).toFixed(2)}×\n`);

/**
 * How the lean client speaks to each kind of target. Three dialects:
 *
 * - `switchboard`: the real protocol (PROTOCOL.md): JWT on the upgrade, wait
 *   for `hello`, `sub`/`pub` frames answered by `ok`, publications arrive as
 *   `{"t":"msg",...}`.
 * - `peer`: the bench peers (bun-raw, uws-node, ws-node) speak the same frame
 *   shapes without auth and without `hello`.
 * - `socketio`: Engine.IO v4 over a bare WebSocket
 *   (`/socket.io/?EIO=4&transport=websocket`): `0{..}` open, `40` connect,
 *   `42["ev",..]` events, `421[..]`/`431[..]` acks, `2`/`3` ping/pong.
 * - `switchboard-socketio`: the same framing against Switchboard's
 *   `/socket.io/`: the JWT in the CONNECT packet (`40{"token":..}`), the
 *   generic `subscribe`/`publish` events, publications arriving as their own
 *   event name (`42["m",data,meta,offset]`).
 * - `raw`: bun-chat, Bun's bare chat server: no handshake, every connection
 *   is in the one room from its open, a client frame is published as it is
 *   (so it carries its own `"ch"`, sender and sequence), no acks.
 */
import { LeanConn, type LeanOptions } from "./lean-client.ts";

export type DialectKind = "switchboard" | "peer" | "socketio" | "switchboard-socketio" | "raw";

export interface Endpoint {
  host: string;
  port: number;
}

/** Everything a worker needs to open one client connection; JSON-serialisable. */
export interface ClientSpec {
  dialect: DialectKind;
  /** Bearer token for the upgrade request (switchboard). */
  token?: string;
}

const enc = new TextEncoder();
const MSG_JSON = enc.encode('{"t":"msg"');
const ACK_JSON = enc.encode('{"t":"ok"');
const MSG_SIO = enc.encode('42["msg"');
const ACK_SIO = enc.encode("43");
/** Every bench publication uses the event name "m". */
const MSG_SBIO = enc.encode('42["m"');
const MSG_RAW = enc.encode('{"ch":');
const ERR_JSON = enc.encode('{"t":"err"');
const ID_JSON = enc.encode('"id":');

export function leanOptions(ep: Endpoint, spec: ClientSpec): LeanOptions {
  if (spec.dialect === "socketio") {
    // An Engine.IO ack names its id right after "43": `43<id>[...]`.
    return { ...ep, path: "/socket.io/?EIO=4&transport=websocket", msgPrefix: MSG_SIO, ackPrefix: ACK_SIO, idKey: ACK_SIO, engineIoPing: true };
  }
  if (spec.dialect === "switchboard-socketio") {
    return { ...ep, path: "/socket.io/?EIO=4&transport=websocket", msgPrefix: MSG_SBIO, ackPrefix: ACK_SIO, idKey: ACK_SIO, engineIoPing: true };
  }
  if (spec.dialect === "raw") return { ...ep, path: "/", msgPrefix: MSG_RAW };
  const headers = spec.token ? { Authorization: `Bearer ${spec.token}` } : undefined;
  return { ...ep, path: "/v1/ws", headers, msgPrefix: MSG_JSON, ackPrefix: ACK_JSON, errPrefix: ERR_JSON, idKey: ID_JSON };
}

/** Opens a connection and completes the dialect's handshake (authenticated and ready). */
export async function openClient(ep: Endpoint, spec: ClientSpec): Promise<LeanConn> {
  const opts = leanOptions(ep, spec);
  const c = await LeanConn.open(opts);
  if (spec.dialect === "switchboard") {
    await c.expect((t) => t.startsWith('{"t":"hello"') || t.includes('"t":"hello"'));
  } else if (spec.dialect === "socketio" || spec.dialect === "switchboard-socketio") {
    await c.expect((t) => t.startsWith("0{"));
    const connected = c.expect((t) => t.startsWith("40"));
    c.sendText(spec.dialect === "socketio" ? "40" : `40{"token":${JSON.stringify(spec.token ?? "")}}`);
    await connected;
  }
  return c;
}

function isOkFor(text: string, id: number): boolean {
  if (!text.startsWith('{"t":"ok"') && !text.includes('"t":"ok"')) return false;
  try {
    return (JSON.parse(text) as { id?: number }).id === id;
  } catch {
    return false;
  }
}

/** Subscribes and waits for the acknowledgement. `id` must be unique on this connection. */
export async function subscribe(c: LeanConn, spec: ClientSpec, ch: string, id: number): Promise<void> {
  if (spec.dialect === "raw") return; // subscribed to its one room on open
  if (spec.dialect === "socketio" || spec.dialect === "switchboard-socketio") {
    const ok = c.expect((t) => t.startsWith(`43${id}[`));
    c.sendText(spec.dialect === "socketio" ? `42${id}["sub",${JSON.stringify(ch)}]` : `42${id}["subscribe",{"ch":${JSON.stringify(ch)}}]`);
    await ok;
    return;
  }
  const ok = c.expect((t) => isOkFor(t, id));
  c.sendText(`{"t":"sub","id":${id},"ch":${JSON.stringify(ch)}}`);
  await ok;
}

/** The text of one publication frame; `dataJson` is already JSON. */
export function pubFrame(spec: ClientSpec, ch: string, ev: string, dataJson: string, id: number): string {
  if (spec.dialect === "raw") return `{"ch":${JSON.stringify(ch)},${dataJson.slice(1)}`;
  if (spec.dialect === "socketio") return `42${id}["pub",{"ch":${JSON.stringify(ch)},"ev":"${ev}","data":${dataJson}}]`;
  if (spec.dialect === "switchboard-socketio") return `42${id}["publish",{"ch":${JSON.stringify(ch)},"ev":"${ev}","data":${dataJson}}]`;
  return `{"t":"pub","id":${id},"ch":${JSON.stringify(ch)},"ev":"${ev}","data":${dataJson}}`;
}

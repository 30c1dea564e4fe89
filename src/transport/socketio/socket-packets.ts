/**
 * Socket.IO v5 packets, hand-written (see the commit that added this file for
 * the measurement against socket.io-parser). Text form:
 * `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`, namespace `/` omitted.
 */
export const SIO = {
  CONNECT: 0,
  DISCONNECT: 1,
  EVENT: 2,
  ACK: 3,
  CONNECT_ERROR: 4,
  BINARY_EVENT: 5,
  BINARY_ACK: 6,
} as const;

export interface SocketPacket {
  type: number;
  nsp: string;
  /** Ack id the sender asks an answer for (EVENT) or answers (ACK). */
  id: number | undefined;
  /** Parsed JSON payload; undefined when the packet has none. */
  data: unknown;
}

/** Why a packet could not be read; the caller answers it with BAD_REQUEST. */
export class PacketError extends Error {}

const MAX_ACK_ID = 2 ** 31;

export function decodeSocketPacket(text: string): SocketPacket {
  const type = text.charCodeAt(0) - 48;
  if (!(type >= 0 && type <= 6) || Number.isNaN(type)) throw new PacketError("unknown Socket.IO packet type");
  let i = 1;
  if (type === SIO.BINARY_EVENT || type === SIO.BINARY_ACK) {
    const dash = text.indexOf("-", i);
    if (dash < 0 || dash - i > 6) throw new PacketError("malformed binary packet header");
    i = dash + 1;
  }
  let nsp = "/";
  if (text.charCodeAt(i) === 47 /* / */) {
    const comma = text.indexOf(",", i);
    const end = comma < 0 ? text.length : comma;
    if (end - i > 128) throw new PacketError("namespace name is too long");
    nsp = text.slice(i, end);
    i = comma < 0 ? end : end + 1;
  }
  let id: number | undefined;
  let j = i;
  while (j < text.length && j - i < 11) {
    const c = text.charCodeAt(j);
    if (c < 48 || c > 57) break;
    j++;
  }
  if (j > i) {
    id = Number(text.slice(i, j));
    if (id >= MAX_ACK_ID) throw new PacketError("ack id is too large");
    i = j;
  }
  let data: unknown;
  if (i < text.length) {
    try {
      data = JSON.parse(text.slice(i));
    } catch {
      throw new PacketError("packet payload is not valid JSON");
    }
  }
  return { type, nsp, id, data };
}

/** `nsp,` before the payload, nothing for the main namespace. */
export function nspPrefix(nsp: string): string {
  return nsp === "/" ? "" : nsp + ",";
}

/** Engine.IO message (4) carrying a Socket.IO packet: what goes on the wire. */
export function connectAck(nsp: string, sid: string, pid: string | undefined): string {
  return "40" + nspPrefix(nsp) + '{"sid":"' + sid + (pid === undefined ? '"}' : '","pid":"' + pid + '"}');
}

export function connectError(nsp: string, code: string, message: string): string {
  return "44" + nspPrefix(nsp) + '{"message":' + JSON.stringify(message) + ',"data":{"code":"' + code + '"}}';
}

export function disconnectPacket(nsp: string): string {
  return nsp === "/" ? "41" : "41" + nsp + ",";
}

/** An event; `argsJson` is the JSON text of the argument array after the event name, without brackets. */
export function eventPacket(nspHead: string, ev: string, argsJson: string): string {
  return nspHead + JSON.stringify(ev) + "," + argsJson + "]";
}

const heads = new Map<string, string>();

/** The start of every EVENT packet of a namespace: `42` + namespace + `[` (one string per namespace, shared by its sockets). */
export function eventHead(nsp: string): string {
  let h = heads.get(nsp);
  if (h === undefined) heads.set(nsp, (h = "42" + nspPrefix(nsp) + "["));
  return h;
}

export function ackPacket(nsp: string, id: number, argJson: string): string {
  return "43" + nspPrefix(nsp) + id + "[" + argJson + "]";
}

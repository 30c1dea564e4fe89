/**
 * Engine.IO v4 packets: one type digit, then the payload. Over WebSocket one
 * frame is one packet; an HTTP long-polling body joins packets with the
 * record separator (0x1e).
 */
export const EIO = {
  OPEN: "0",
  CLOSE: "1",
  PING: "2",
  PONG: "3",
  MESSAGE: "4",
  UPGRADE: "5",
  NOOP: "6",
} as const;

export const RECORD_SEPARATOR = "\x1e";

export const PING_PACKET = EIO.PING;
export const NOOP_PACKET = EIO.NOOP;
export const CLOSE_PACKET = EIO.CLOSE;
export const PROBE_PING = "2probe";
export const PROBE_PONG = "3probe";

export interface OpenInfo {
  sid: string;
  upgrades: string[];
  pingInterval: number;
  pingTimeout: number;
  maxPayload: number;
}

export function encodeOpen(info: OpenInfo): string {
  return EIO.OPEN + JSON.stringify(info);
}

/** Splits a polling body into packets; binary packets (`b` + base64) are kept as they are and refused by the caller. */
export function splitPayload(body: string): string[] {
  return body.length === 0 ? [] : body.split(RECORD_SEPARATOR);
}

export function joinPayload(packets: readonly string[]): string {
  return packets.length === 1 ? packets[0]! : packets.join(RECORD_SEPARATOR);
}

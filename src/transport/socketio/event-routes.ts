import type { LegacyEvent, SocketNamespace } from "../../config/socketio.ts";
import { SwitchboardError } from "../../protocol/errors.ts";

/** A client event turned into a native request frame (without `id`) and how its answer is shaped. */
export interface RoutedEvent {
  frame: Record<string, unknown>;
  /** The channel subscribed or unsubscribed (for the recovery bookkeeping). */
  ch: string | undefined;
  /** Builds the ack argument from the native `ok` fields. */
  ack: (ok: Record<string, unknown>) => unknown;
  /** Builds the ack argument of a failure; undefined = `{error: {code, message}}`. */
  fail: ((err: Record<string, unknown>) => unknown) | undefined;
}

const GENERIC_FRAME: Record<string, string> = {
  subscribe: "sub",
  unsubscribe: "unsub",
  publish: "pub",
  presence: "presence",
  history: "history",
};

/** Values that may go into a channel name: what the channel alphabet allows, nothing else. */
const CHANNEL_PART = /^[A-Za-z0-9_.:@=\-]{1,200}$/;

function objectArg(name: string, arg: unknown, shape: string): Record<string, unknown> {
  if (typeof arg !== "object" || arg === null || Array.isArray(arg)) {
    throw new SwitchboardError("VALIDATION_ERROR", `${name}: expects ${shape}`);
  }
  return arg as Record<string, unknown>;
}

/** A native `msg` as the Socket.IO client sees a publication: `{ev, data, meta}`. */
function asEvent(m: Record<string, unknown>): unknown {
  const meta: Record<string, unknown> = { ch: m.ch, off: m.off };
  if (m.from !== undefined) meta.from = m.from;
  meta.ts = m.ts;
  return { ev: m.ev, data: m.data, meta };
}

function genericAck(t: string, ok: Record<string, unknown>): unknown {
  switch (t) {
    case "sub":
      return { off: ok.off, recovered: ok.recovered };
    case "pub":
      return { off: ok.off };
    case "presence":
      return { members: ok.members };
    case "history":
      return { messages: (ok.messages as Record<string, unknown>[]).map(asEvent), off: ok.off, recovered: ok.recovered };
    default:
      return {};
  }
}

function fill(template: string, fields: Record<string, unknown>, event: string): string {
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, (_, f: string) => {
    const val = fields[f];
    const text = typeof val === "number" && Number.isInteger(val) ? String(val) : val;
    if (typeof text !== "string" || !CHANNEL_PART.test(text)) {
      throw new SwitchboardError("VALIDATION_ERROR", `${event}.${f}: must be a string of [A-Za-z0-9_.:@=-]`);
    }
    return text;
  });
}

const RESULT_KEYS = new Set(["off", "recovered", "code", "message"]);

/**
 * Copies an ack template, replacing "{name}" strings with the result's field
 * of that name, else the payload's. Subscribe and publish results answer only
 * RESULT_KEYS; a feature frame's result (`anyKey`) answers every field it has.
 */
function shapeAck(template: unknown, fields: Record<string, unknown>, ok: Record<string, unknown>, anyKey = false): unknown {
  if (typeof template === "string") {
    const m = /^\{([A-Za-z0-9_]+)\}$/.exec(template);
    if (!m) return template;
    const f = m[1]!;
    return (anyKey ? f in ok : RESULT_KEYS.has(f)) ? ok[f] : fields[f];
  }
  if (Array.isArray(template)) return template.map((t) => shapeAck(t, fields, ok, anyKey));
  if (typeof template === "object" && template !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, t] of Object.entries(template)) out[k] = shapeAck(t, fields, ok, anyKey);
    return out;
  }
  return template;
}

/** A feature frame's `ok` as the client sees it: without `t` and `id`; stored messages as `{ev, data, meta}` like history. */
function featureResult(t: string, ok: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(ok)) if (k !== "t" && k !== "id") out[k] = val;
  if (t === "messages" && Array.isArray(out.messages)) out.messages = (out.messages as Record<string, unknown>[]).map(asEvent);
  return out;
}

/** Fills a frame's field templates from the payload (see `fields` in config/socketio.ts). */
function fillFields(template: unknown, fields: Record<string, unknown>, event: string): unknown {
  if (typeof template === "string") {
    const m = /^\{([A-Za-z0-9_]+)\}$/.exec(template);
    if (m) return fields[m[1]!];
    return template.includes("{") ? fill(template, fields, event) : template;
  }
  if (Array.isArray(template)) {
    return template.map((t) => {
      const val = fillFields(t, fields, event);
      if (val === undefined) throw new SwitchboardError("VALIDATION_ERROR", `${event}.${String(t).slice(1, -1)}: is required`);
      return val;
    });
  }
  if (typeof template === "object" && template !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, t] of Object.entries(template)) {
      const val = fillFields(t, fields, event);
      if (val !== undefined) out[k] = val;
    }
    return out;
  }
  return template;
}

function frameEvent(name: string, e: Extract<LegacyEvent, { action: "frame" }>, fields: Record<string, unknown>): RoutedEvent {
  const frame = { ...(fillFields(e.fields, fields, name) as Record<string, unknown>), t: e.frame };
  const result = (ok: Record<string, unknown>) => featureResult(e.frame, ok);
  const ack = e.ack === undefined ? result : (ok: Record<string, unknown>) => shapeAck(e.ack, fields, result(ok), true);
  const fail = e.errorAck === undefined ? undefined : (err: Record<string, unknown>) => shapeAck(e.errorAck, fields, { code: err.code, message: err.msg });
  return { frame, ch: undefined, ack, fail };
}

function legacy(name: string, e: LegacyEvent, arg: unknown): RoutedEvent {
  const fields = arg === undefined ? {} : objectArg(name, arg, "an object");
  if (e.action === "frame") return frameEvent(name, e, fields);
  const ch = fill(e.channel, fields, name);
  const t = e.action === "subscribe" ? "sub" : e.action === "unsubscribe" ? "unsub" : "pub";
  const frame: Record<string, unknown> = { t, ch };
  if (e.action === "publish") {
    frame.ev = e.event;
    frame.data = e.field === undefined ? fields : (fields[e.field] ?? null);
  }
  const ack = e.ack === undefined ? (ok: Record<string, unknown>) => genericAck(t, ok) : (ok: Record<string, unknown>) => shapeAck(e.ack, fields, ok);
  const fail = e.errorAck === undefined ? undefined : (err: Record<string, unknown>) => shapeAck(e.errorAck, fields, { code: err.code, message: err.msg });
  return { frame, ch: t === "pub" ? undefined : ch, ack, fail };
}

/** The failure ack of a legacy event whose payload could not even become a request. */
export function failureShape(n: SocketNamespace, name: string, arg: unknown): RoutedEvent["fail"] {
  const e = n.events[name];
  if (e?.errorAck === undefined) return undefined;
  const fields = typeof arg === "object" && arg !== null && !Array.isArray(arg) ? (arg as Record<string, unknown>) : {};
  return (err) => shapeAck(e.errorAck, fields, { code: err.code, message: err.msg });
}

/** Maps a client event of namespace `n` to a request; throws SwitchboardError for what cannot be one. */
export function routeEvent(n: SocketNamespace, name: string, arg: unknown): RoutedEvent {
  const t = GENERIC_FRAME[name];
  let routed: RoutedEvent;
  if (t !== undefined) {
    const fields = objectArg(name, arg, t === "pub" ? "{ch, ev, data}" : t === "history" ? "{ch, since?, limit?}" : t === "sub" ? "{ch, since?, presence?}" : "{ch}");
    routed = { frame: { ...fields, t }, ch: t === "sub" || t === "unsub" ? (fields.ch as string | undefined) : undefined, ack: (ok) => genericAck(t, ok), fail: undefined };
  } else {
    const e = n.events[name];
    if (e === undefined) throw new SwitchboardError("RESOURCE_NOT_FOUND", `unknown event ${name.slice(0, 64)}`);
    routed = legacy(name, e, arg);
  }
  const ch = routed.frame.ch;
  if (n.channels && typeof ch === "string") {
    const ns = ch.slice(0, ch.indexOf(":"));
    if (!n.channels.includes(ns)) throw new SwitchboardError("RESOURCE_NOT_FOUND", `channel namespace ${ns.slice(0, 64)} is not available on this Socket.IO namespace`);
  }
  return routed;
}

/** `{code, message, retryAfter?, event?}` as JSON text. */
export function errorBody(code: string, message: string, retryAfter?: number, event?: string): string {
  let s = '{"code":"' + code + '","message":' + JSON.stringify(message);
  if (retryAfter !== undefined) s += ',"retryAfter":' + retryAfter;
  if (event !== undefined) s += ',"event":' + JSON.stringify(event);
  return s + "}";
}

/** `{error: {code, message, retryAfter?}}`: how a failed request is acknowledged. */
export function errorAck(code: string, message: string, retryAfter?: number): string {
  return '{"error":' + errorBody(code, message, retryAfter) + "}";
}

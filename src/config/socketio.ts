import * as v from "valibot";
import type { Namespaces } from "./policy.ts";

/**
 * The Socket.IO endpoint's part of the config file (`"socketio"` key): which
 * Socket.IO namespaces exist, which channel namespaces each may reach, the
 * channels a socket joins on connect, and legacy events mapped onto the
 * generic requests. Templates use `{field}`: payload fields in events,
 * `{sub}` and `{tenant}` in `autoSubscribe`.
 */
const Template = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_.@=\-]{1,64}:([A-Za-z0-9_.:@=\-]|\{[A-Za-z0-9_]{1,64}\})+$/, "must be <namespace>:<rest> where rest may hold {field} placeholders"),
);

const LegacySubscribe = v.strictObject({
  action: v.picklist(["subscribe", "unsubscribe"]),
  channel: Template,
  /** Ack payload; "{field}" strings are replaced by the event's field, "{off}"/"{recovered}" by the result. */
  ack: v.optional(v.unknown()),
  /** Ack payload of a failure; "{code}" and "{message}" are the error's (default `{error: {code, message}}`). */
  errorAck: v.optional(v.unknown()),
});

const LegacyPublish = v.strictObject({
  action: v.literal("publish"),
  channel: Template,
  /** Event name of the publication subscribers receive. */
  event: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  /** Publish only this field of the payload (default: the whole payload). */
  field: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_]{1,64}$/, "must be a field name"))),
  ack: v.optional(v.unknown()),
  errorAck: v.optional(v.unknown()),
});

export const LegacyEventSchema = v.variant("action", [LegacySubscribe, LegacyPublish], "action must be subscribe, unsubscribe or publish");

export type LegacyEvent = v.InferOutput<typeof LegacyEventSchema>;

const SocketNamespaceSchema = v.strictObject({
  /** Channel namespaces this Socket.IO namespace may reach (default: all). */
  channels: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.@=\-]{1,64}$/, "must be a channel namespace name")))),
  autoSubscribe: v.optional(v.array(Template), []),
  events: v.optional(v.record(v.pipe(v.string(), v.minLength(1), v.maxLength(128)), LegacyEventSchema), {}),
});

export type SocketNamespace = v.InferOutput<typeof SocketNamespaceSchema>;

export const SocketIoSchema = v.strictObject({
  namespaces: v.record(v.pipe(v.string(), v.regex(/^\/[A-Za-z0-9_\-]{0,63}$/, "must be / or /<name> of [A-Za-z0-9_-]")), SocketNamespaceSchema),
});

export type SocketIoConfig = v.InferOutput<typeof SocketIoSchema>;

/** Generic event names; a legacy mapping may not reuse them. */
export const GENERIC_EVENTS = ["subscribe", "unsubscribe", "publish", "presence", "history"] as const;
const RESERVED = new Set<string>([...GENERIC_EVENTS, "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener", "error"]);

/** The failure acks typical NestJS gateways answer (`{status: "error", error}` / `{success: false, error}`), plus the code. */
const CASE_ERROR = { status: "error", error: "{message}", code: "{code}" };
const ROOM_ERROR = { success: false, error: "{message}", code: "{code}" };

export const DEFAULT_SOCKETIO: SocketIoConfig = {
  namespaces: {
    "/": {
      autoSubscribe: ["user:{sub}", "org:{tenant}"],
      events: {
        "subscribe:case": { action: "subscribe", channel: "case:{caseId}", ack: { status: "subscribed", caseId: "{caseId}" }, errorAck: CASE_ERROR },
        "unsubscribe:case": { action: "unsubscribe", channel: "case:{caseId}", ack: { status: "unsubscribed", caseId: "{caseId}" }, errorAck: CASE_ERROR },
        join_room: { action: "subscribe", channel: "room:{room}", ack: { success: true }, errorAck: ROOM_ERROR },
        leave_room: { action: "unsubscribe", channel: "room:{room}", ack: { success: true }, errorAck: ROOM_ERROR },
        send_message: { action: "publish", channel: "room:{room}", event: "message", ack: { success: true }, errorAck: ROOM_ERROR },
      },
    },
    "/events": {
      channels: ["user", "org", "case", "student"],
      autoSubscribe: ["user:{sub}", "org:{tenant}"],
      events: {
        "subscribe:case": { action: "subscribe", channel: "case:{caseId}", ack: { status: "subscribed", caseId: "{caseId}" }, errorAck: CASE_ERROR },
        "unsubscribe:case": { action: "unsubscribe", channel: "case:{caseId}", ack: { status: "unsubscribed", caseId: "{caseId}" }, errorAck: CASE_ERROR },
      },
    },
    "/messaging": {
      channels: ["room"],
      autoSubscribe: [],
      events: {
        join_room: { action: "subscribe", channel: "room:{room}", ack: { success: true }, errorAck: ROOM_ERROR },
        leave_room: { action: "unsubscribe", channel: "room:{room}", ack: { success: true }, errorAck: ROOM_ERROR },
        send_message: { action: "publish", channel: "room:{room}", event: "message", ack: { success: true }, errorAck: ROOM_ERROR },
      },
    },
  },
};

/** The default mapping, less what names a channel namespace this deployment does not configure. */
export function defaultSocketIo(namespaces: Namespaces): SocketIoConfig {
  const has = (t: string) => t.slice(0, t.indexOf(":")) in namespaces;
  const out: SocketIoConfig = { namespaces: {} };
  for (const [nsp, n] of Object.entries(DEFAULT_SOCKETIO.namespaces)) {
    out.namespaces[nsp] = {
      ...(n.channels ? { channels: n.channels.filter((ns) => ns in namespaces) } : {}),
      autoSubscribe: n.autoSubscribe.filter(has),
      events: Object.fromEntries(Object.entries(n.events).filter(([, e]) => has(e.channel))),
    };
  }
  return out;
}

const AUTO_FIELDS = new Set(["sub", "tenant"]);

/** Cross-checks the mapping against the channel policy; each problem names its key. */
export function checkSocketIo(sio: SocketIoConfig, namespaces: Namespaces): string[] {
  const problems: string[] = [];
  for (const [nsp, n] of Object.entries(sio.namespaces)) {
    const at = `socketio.namespaces.${nsp}`;
    const reachable = (ns: string) => ns in namespaces && (!n.channels || n.channels.includes(ns));
    for (const [i, ns] of (n.channels ?? []).entries()) {
      if (!(ns in namespaces)) problems.push(`${at}.channels.${i}: channel namespace ${ns} is not configured`);
    }
    for (const [i, t] of n.autoSubscribe.entries()) {
      const ns = t.slice(0, t.indexOf(":"));
      if (!reachable(ns)) problems.push(`${at}.autoSubscribe.${i}: channel namespace ${ns} is not reachable from ${nsp}`);
      for (const f of placeholders(t)) if (!AUTO_FIELDS.has(f)) problems.push(`${at}.autoSubscribe.${i}: only {sub} and {tenant} are known here, not {${f}}`);
    }
    for (const [name, e] of Object.entries(n.events)) {
      const key = `${at}.events.${name}`;
      if (RESERVED.has(name)) problems.push(`${key}: ${name} is a generic or reserved event name`);
      const ns = e.channel.slice(0, e.channel.indexOf(":"));
      if (!reachable(ns)) problems.push(`${key}.channel: channel namespace ${ns} is not reachable from ${nsp}`);
      if (placeholders(e.channel).length === 0 && e.channel.includes("{")) problems.push(`${key}.channel: malformed placeholder`);
    }
  }
  return problems;
}

export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!);
}

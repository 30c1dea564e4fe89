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

/**
 * Feature frames a legacy event may become, the fields each takes, and
 * whether it needs the chat namespace (one whose policy sets `retention`).
 */
export const FEATURE_FRAMES: Readonly<Record<string, { fields: readonly string[]; chat: boolean }>> = {
  inbox: { fields: ["unread", "limit", "before"], chat: false },
  inbox_read: { fields: ["ids"], chat: false },
  typing: { fields: ["ch", "active"], chat: true },
  read: { fields: ["ch", "off"], chat: true },
  unread: { fields: [], chat: true },
  messages: { fields: ["ch", "before", "limit"], chat: true },
  status: { fields: ["status", "text"], chat: false },
  watch: { fields: ["users"], chat: false },
  unwatch: { fields: ["users"], chat: false },
  roster: { fields: ["users"], chat: false },
};

const LegacyFrame = v.strictObject({
  action: v.literal("frame"),
  /** The feature frame type (`t`) the event becomes. */
  frame: v.picklist(Object.keys(FEATURE_FRAMES), `frame must be one of ${Object.keys(FEATURE_FRAMES).join(", ")}`),
  /**
   * The frame's fields. A string that is exactly "{field}" takes the payload's
   * value as it is (a missing one leaves the field out); "{field}" inside a
   * longer string (e.g. "chat:{conversationId}") is filled like a channel.
   */
  fields: v.optional(v.record(v.string(), v.unknown()), {}),
  /** Ack payload; "{name}" strings take the answer's field of that name, else the event's. */
  ack: v.optional(v.unknown()),
  errorAck: v.optional(v.unknown()),
});

export const LegacyEventSchema = v.variant("action", [LegacySubscribe, LegacyPublish, LegacyFrame], "action must be subscribe, unsubscribe, publish or frame");

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

/** The seeds' notification, chat and presence events, onto the feature frames (the `chat` namespace is the default chat one). */
const FEATURE_MAPPING: Record<string, LegacyEvent> = {
  "notification:read": { action: "frame", frame: "inbox_read", fields: { ids: ["{id}"] }, ack: { success: true, unread: "{unread}" }, errorAck: ROOM_ERROR },
  "notifications:read_all": { action: "frame", frame: "inbox_read", fields: {}, ack: { success: true, unread: "{unread}" }, errorAck: ROOM_ERROR },
  "notifications:list": { action: "frame", frame: "inbox", fields: { unread: "{unreadOnly}", limit: "{limit}", before: "{before}" }, ack: { notifications: "{notifications}", unread: "{unread}" }, errorAck: ROOM_ERROR },
  typing: { action: "frame", frame: "typing", fields: { ch: "chat:{conversationId}", active: "{isTyping}" }, ack: { success: true }, errorAck: ROOM_ERROR },
  "message:read": { action: "frame", frame: "read", fields: { ch: "chat:{conversationId}", off: "{off}" }, ack: { success: true, off: "{off}", unread: "{unread}" }, errorAck: ROOM_ERROR },
  "conversation:join": { action: "subscribe", channel: "chat:{conversationId}", ack: { success: true, conversationId: "{conversationId}", off: "{off}" }, errorAck: ROOM_ERROR },
  "conversation:leave": { action: "unsubscribe", channel: "chat:{conversationId}", ack: { success: true }, errorAck: ROOM_ERROR },
  "presence:watch": { action: "frame", frame: "watch", fields: { users: "{users}" }, ack: { users: "{users}" }, errorAck: ROOM_ERROR },
  "presence:unwatch": { action: "frame", frame: "unwatch", fields: { users: "{users}" }, ack: { success: true }, errorAck: ROOM_ERROR },
  "presence:status": { action: "frame", frame: "status", fields: { status: "{status}", text: "{text}" }, ack: { success: true, status: "{status}" }, errorAck: ROOM_ERROR },
};

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
        ...FEATURE_MAPPING,
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
      channels: ["room", "chat"],
      autoSubscribe: [],
      events: {
        join_room: { action: "subscribe", channel: "room:{room}", ack: { success: true }, errorAck: ROOM_ERROR },
        leave_room: { action: "unsubscribe", channel: "room:{room}", ack: { success: true }, errorAck: ROOM_ERROR },
        send_message: { action: "publish", channel: "room:{room}", event: "message", ack: { success: true }, errorAck: ROOM_ERROR },
        "conversation:join": FEATURE_MAPPING["conversation:join"]!,
        "conversation:leave": FEATURE_MAPPING["conversation:leave"]!,
        typing: FEATURE_MAPPING.typing!,
        "message:read": FEATURE_MAPPING["message:read"]!,
      },
    },
  },
};

/** The channel template an event names: its `channel`, or the `ch` field of a feature frame. */
export function eventChannel(e: LegacyEvent): string | undefined {
  if (e.action !== "frame") return e.channel;
  return typeof e.fields.ch === "string" ? e.fields.ch : undefined;
}

/** The default mapping, less what names a channel namespace this deployment does not configure. */
export function defaultSocketIo(namespaces: Namespaces): SocketIoConfig {
  const has = (t: string | undefined) => t === undefined || t.slice(0, t.indexOf(":")) in namespaces;
  const chat = chatNamespaceOf(namespaces);
  const usable = (e: LegacyEvent) => has(eventChannel(e)) && (e.action !== "frame" || !FEATURE_FRAMES[e.frame]!.chat || (chat !== undefined && eventChannel(e)?.startsWith(chat + ":") !== false));
  const out: SocketIoConfig = { namespaces: {} };
  for (const [nsp, n] of Object.entries(DEFAULT_SOCKETIO.namespaces)) {
    out.namespaces[nsp] = {
      ...(n.channels ? { channels: n.channels.filter((ns) => ns in namespaces) } : {}),
      autoSubscribe: n.autoSubscribe.filter(has),
      events: Object.fromEntries(Object.entries(n.events).filter(([, e]) => usable(e))),
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
      if (e.action === "frame") {
        problems.push(...checkFrameEvent(key, e, nsp, namespaces, reachable));
        continue;
      }
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

/** The chat namespace: the one whose policy sets `retention` (as chat-service.ts decides; several are refused at start-up there). */
function chatNamespaceOf(namespaces: Namespaces): string | undefined {
  return Object.entries(namespaces).find(([, p]) => p.retention !== undefined)?.[0];
}

function checkFrameEvent(key: string, e: Extract<LegacyEvent, { action: "frame" }>, nsp: string, namespaces: Namespaces, reachable: (ns: string) => boolean): string[] {
  const problems: string[] = [];
  const spec = FEATURE_FRAMES[e.frame]!;
  for (const f of Object.keys(e.fields)) {
    if (!spec.fields.includes(f)) problems.push(`${key}.fields.${f}: ${e.frame} has no field ${f} (it takes ${spec.fields.join(", ") || "none"})`);
  }
  if (!spec.chat) return problems;
  const chat = chatNamespaceOf(namespaces);
  if (chat === undefined) return [...problems, `${key}.frame: ${e.frame} needs the chat feature, and no namespace sets retention`];
  const ch = e.fields.ch;
  if (e.frame === "unread") return problems;
  if (typeof ch !== "string" || !/^[A-Za-z0-9_.@=\-]{1,64}:/.test(ch)) return [...problems, `${key}.fields.ch: must be a channel template such as "${chat}:{conversationId}"`];
  const ns = ch.slice(0, ch.indexOf(":"));
  if (ns !== chat) problems.push(`${key}.fields.ch: ${e.frame} is for ${chat}: channels, not ${ns}:`);
  else if (!reachable(ns)) problems.push(`${key}.fields.ch: channel namespace ${ns} is not reachable from ${nsp}`);
  return problems;
}

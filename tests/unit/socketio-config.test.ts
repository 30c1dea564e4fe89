import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config/load.ts";

function load(file: Record<string, unknown>): { problems: string[]; config?: ReturnType<typeof loadConfig> } {
  const dir = mkdtempSync(join(tmpdir(), "sb-siocfg-"));
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify(file));
  try {
    return { problems: [], config: loadConfig({ DATA_DIR: dir, SWITCHBOARD_CONFIG: path }) };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems };
    throw err;
  }
}

const rooms = { room: { subscribe: ["claim:rooms"], publish: ["claim:rooms"] } };

test("the default mapping keeps only what the configured channel namespaces can serve", () => {
  const { config } = load({ namespaces: rooms });
  const main = config!.socketio.namespaces["/"]!;
  expect(main.autoSubscribe).toEqual([]);
  // Notifications and presence status need no channel namespace; chat events need the chat one.
  expect(Object.keys(main.events).sort()).toEqual([
    "join_room",
    "leave_room",
    "notification:read",
    "notifications:list",
    "notifications:read_all",
    "presence:status",
    "presence:unwatch",
    "presence:watch",
    "send_message",
  ]);
  expect(config!.socketio.namespaces["/events"]!.channels).toEqual([]);
  expect(config!.socketio).toMatchObject({ pingIntervalMs: 25000, pingTimeoutMs: 20000, recoverySec: 120 });
});

test("a legacy mapping is checked against the policy at start-up, each problem naming its key", () => {
  const { problems } = load({
    namespaces: rooms,
    socketio: {
      namespaces: {
        "/": {
          autoSubscribe: ["user:{sub}", "room:{who}"],
          events: {
            subscribe: { action: "subscribe", channel: "room:{room}" },
            "subscribe:case": { action: "subscribe", channel: "case:{caseId}" },
          },
        },
        "/chat": { channels: ["room", "ghost"] },
      },
    },
  });
  expect(problems.sort()).toEqual([
    "socketio.namespaces./.autoSubscribe.0: channel namespace user is not reachable from /",
    "socketio.namespaces./.autoSubscribe.1: only {sub} and {tenant} are known here, not {who}",
    "socketio.namespaces./.events.subscribe: subscribe is a generic or reserved event name",
    "socketio.namespaces./.events.subscribe:case.channel: channel namespace case is not reachable from /",
    "socketio.namespaces./chat.channels.1: channel namespace ghost is not configured",
  ]);
});

test("malformed mappings are refused with the key of each problem", () => {
  const { problems } = load({
    namespaces: rooms,
    socketio: {
      namespaces: {
        "/": { events: { send_message: { action: "publish", channel: "room:{room}" }, typing: { action: "shout", channel: "room:{room}" } } },
        chat: {},
      },
    },
  });
  expect(problems.some((p) => p.startsWith("socketio.namespaces./.events.send_message.event:"))).toBe(true);
  expect(problems.some((p) => p.startsWith("socketio.namespaces./.events.typing") && p.includes("action must be subscribe, unsubscribe, publish or frame"))).toBe(true);
  expect(problems.some((p) => p.startsWith("socketio.namespaces.chat") && p.includes("must be / or /<name>"))).toBe(true);
});

test("unknown keys in a mapping are refused, not ignored", () => {
  const { problems } = load({ namespaces: rooms, socketio: { namespaces: { "/": { evnets: {} } } } });
  expect(problems.some((p) => p.startsWith("socketio.namespaces./.evnets"))).toBe(true);
});

test("events mapped onto feature frames are checked at start-up: frame, fields and the chat channel, each naming its key", () => {
  const chatless = load({
    namespaces: rooms,
    socketio: { namespaces: { "/": { events: { typing: { action: "frame", frame: "typing", fields: { ch: "room:{room}" } } } } } },
  });
  expect(chatless.problems).toEqual(["socketio.namespaces./.events.typing.frame: typing needs the chat feature, and no namespace sets retention"]);

  const { problems } = load({
    namespaces: { ...rooms, chat: { subscribe: ["member"], publish: ["member"], retention: 30 } },
    socketio: {
      namespaces: {
        "/": {
          events: {
            "notification:read": { action: "frame", frame: "inbox_read", fields: { id: "{id}" } },
            typing: { action: "frame", frame: "typing", fields: { ch: "room:{room}" } },
            "message:read": { action: "frame", frame: "read", fields: { off: "{off}" } },
          },
        },
        "/rooms": { channels: ["room"], events: { typing: { action: "frame", frame: "typing", fields: { ch: "chat:{conversationId}" } } } },
      },
    },
  });
  expect(problems.sort()).toEqual([
    "socketio.namespaces./.events.message:read.fields.ch: must be a channel template such as \"chat:{conversationId}\"",
    "socketio.namespaces./.events.notification:read.fields.id: inbox_read has no field id (it takes ids)",
    "socketio.namespaces./.events.typing.fields.ch: typing is for chat: channels, not room:",
    "socketio.namespaces./rooms.events.typing.fields.ch: channel namespace chat is not reachable from /rooms",
  ]);
  const unknown = load({ namespaces: rooms, socketio: { namespaces: { "/": { events: { shout: { action: "frame", frame: "shout" } } } } } });
  expect(unknown.problems.some((p) => p.startsWith("socketio.namespaces./.events.shout.frame: frame must be one of inbox, inbox_read"))).toBe(true);
});

import * as v from "valibot";
import { drawTable } from "../layout/table.ts";
import { documentFields, list, text } from "../report-input.ts";
import { defineTemplate, fileSlug } from "../report-template.ts";
import { formatDateTime } from "../report-time.ts";

const Schema = v.strictObject({
  ...documentFields,
  channel: text(255),
  /** Encoded `msg` frames from the engine, oldest first (parsed in the worker, not on the event loop). */
  frames: v.array(v.string()),
  /** The channel's retained history starts after messages that are gone (trimmed by size or age). */
  olderNotRetained: v.boolean(),
  /** The caller asked for the newest `limit` messages only. */
  limit: v.optional(v.number()),
  since: v.optional(text(32)),
});

type Input = v.InferOutput<typeof Schema>;

interface Message {
  off?: string;
  ts: number;
  from?: string;
  ev: string;
  data: unknown;
}

/** A message's data as lines a person reads: `key: value` for an object, JSON otherwise. */
function readable(data: unknown): string {
  if (typeof data === "string") return data;
  if (data && typeof data === "object" && !Array.isArray(data)) {
    return Object.entries(data)
      .map(([k, val]) => `${k}: ${typeof val === "string" ? val : JSON.stringify(val)}`)
      .join("\n");
  }
  return JSON.stringify(data);
}

/** A channel's retained history, oldest first, built from the engine (GET /v1/reports/channel-history). */
export const channelHistory = defineTemplate<Input>({
  name: "channel-history",
  schema: Schema,
  describe: (i) => ({
    title: `Channel history: ${i.channel}`,
    subtitle: `${i.tenant ? `Tenant ${i.tenant}` : "Default tenant"} · ${i.frames.length} messages`,
    subject: "Channel history transcript",
    fileName: fileSlug("history", i.channel),
  }),
  // Frames may spell characters as \u escapes; the fonts are chosen from the decoded text.
  text: (i) => JSON.stringify(i.frames.map((f) => JSON.parse(f) as unknown)) + i.channel + (i.tenant ?? ""),
  layout(w, i) {
    const messages = i.frames.map((f) => JSON.parse(f) as Message);
    const first = messages[0];
    const last = messages[messages.length - 1];
    w.keyValue([
      ["Channel", i.channel],
      ["Tenant", i.tenant ?? "(default)"],
      ["Messages", String(messages.length)],
      ["From", first ? formatDateTime(first.ts, i.timeZone) : ""],
      ["To", last ? formatDateTime(last.ts, i.timeZone) : ""],
      ["Offsets", first ? `${first.off ?? ""} – ${last!.off ?? ""}` : ""],
    ], 3);
    if (i.olderNotRetained) w.callout(`Older history of this channel is no longer retained: messages before offset ${first?.off ?? "(none)"} were removed by the history limits (size or age) and cannot be shown.`, "warn");
    if (i.limit !== undefined && messages.length >= i.limit) w.callout(`Showing the newest ${messages.length} messages, as asked (limit=${i.limit}); older messages, if any, are not included.`, "note");
    if (messages.length === 0) {
      w.paragraph("No messages are retained for this channel.");
      return;
    }
    drawTable(
      w,
      [{ title: "Time", width: 1.15 }, { title: "Offset", width: 0.55, align: "right" }, { title: "From", width: 0.9 }, { title: "Event", width: 0.8 }, { title: "Message", width: 3.2 }],
      messages.map((m) => [formatDateTime(m.ts, i.timeZone), m.off ?? "", m.from ?? "server", m.ev, readable(m.data)]),
    );
  },
});

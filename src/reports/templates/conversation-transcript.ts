import * as v from "valibot";
import { drawTable } from "../layout/table.ts";
import { documentFields, text } from "../report-input.ts";
import { defineTemplate, fileSlug } from "../report-template.ts";
import { formatDateTime } from "../report-time.ts";

const StoredMessage = v.strictObject({
  off: v.number(),
  ts: v.number(),
  from: v.nullable(v.string()),
  ev: v.string(),
  /** The stored JSON text, parsed in the worker rather than on the event loop. */
  data: v.string(),
  redactedBy: v.optional(v.string()),
  redactedMs: v.optional(v.number()),
});

const Schema = v.strictObject({
  ...documentFields,
  conversation: text(180),
  title: v.nullable(text(200)),
  members: v.array(v.string()),
  /** Oldest first. */
  messages: v.array(StoredMessage),
  since: v.optional(v.number()),
  until: v.optional(v.number()),
  /** Messages older than this instant were deleted by the chat namespace's retention. */
  retainedFrom: v.optional(v.number()),
  retentionDays: v.optional(v.number()),
});

type Input = v.InferOutput<typeof Schema>;
type Message = v.InferOutput<typeof StoredMessage>;

/** What a reader sees of a message: its `text` when the data has one, else the data as compact JSON. */
function messageText(m: Message, timeZone: string): string {
  if (m.redactedBy !== undefined) return `message removed by ${m.redactedBy} at ${m.redactedMs === undefined ? "an unknown time" : formatDateTime(m.redactedMs, timeZone)}`;
  const data = JSON.parse(m.data) as unknown;
  if (data && typeof data === "object" && !Array.isArray(data) && typeof (data as { text?: unknown }).text === "string") return (data as { text: string }).text;
  return JSON.stringify(data);
}

/** A chat conversation from the record store (GET /v1/reports/conversation-transcript). */
export const conversationTranscript = defineTemplate<Input>({
  name: "conversation-transcript",
  schema: Schema,
  describe: (i) => ({
    title: `Chat transcript: ${i.title ?? i.conversation}`,
    subtitle: `${i.tenant ? `Tenant ${i.tenant}` : "Default tenant"} · ${i.members.length} members · ${i.messages.length} messages`,
    subject: "Chat conversation transcript",
    fileName: fileSlug("transcript", i.conversation),
  }),
  // Stored data may spell characters as \u escapes; the fonts are chosen from the decoded text.
  text: (i) =>
    JSON.stringify([i.title, i.members, i.tenant, i.conversation, i.messages.map((m) => [m.from, m.redactedBy, m.redactedBy === undefined ? JSON.parse(m.data) : null])]) +
    "0123456789 :,.—–",
  layout(w, i) {
    const first = i.messages[0];
    const last = i.messages[i.messages.length - 1];
    const range = (at: number | undefined, fallback: string) => (at === undefined ? fallback : formatDateTime(at, i.timeZone));
    w.keyValue([
      ["Tenant", i.tenant || "(default)"],
      ["Conversation", i.title ?? "(untitled)"],
      ["Conversation id", i.conversation],
      ["Messages", String(i.messages.length)],
      ["From", range(i.since ?? first?.ts, "")],
      ["To", range(i.until ?? last?.ts, "")],
    ], 3);
    w.heading(`Members (${i.members.length})`);
    w.paragraph(i.members.join(", ") || "(none)");
    if (i.retainedFrom !== undefined) {
      w.callout(`Messages of this conversation are kept for ${i.retentionDays} days: anything sent before ${formatDateTime(i.retainedFrom, i.timeZone)} (${i.timeZone}) is no longer retained and cannot appear in this transcript.`, "warn");
    }
    w.heading("Messages");
    if (i.messages.length === 0) {
      w.paragraph("No messages are stored for this conversation in the requested range.");
    } else {
      drawTable(
        w,
        [{ title: `Time (${i.timeZone})`, width: 1.15 }, { title: "Sender", width: 0.95 }, { title: "Message", width: 3.9 }],
        // A removed message is shaded so a reader sees the gap, and its content is not there to print.
        i.messages.map((m) => [formatDateTime(m.ts, i.timeZone), m.from ?? "server", m.redactedBy === undefined ? messageText(m, i.timeZone) : { text: messageText(m, i.timeZone), tone: "note" }]),
      );
    }
    w.signatures(["Reviewed by (name and role)"]);
  },
});

import { SwitchboardError } from "../protocol/errors.ts";
import type { ChatMessage, Conversation, MessagePage } from "../store/ports.ts";
import type { DocumentFields } from "./report-input.ts";

export type BuiltInput = DocumentFields & Record<string, unknown>;

/**
 * The inputs of the store-backed reports (channel history, conversation
 * transcript), read in bounded pages: shared by their GET routes and by the
 * `report` job action.
 */

const HISTORY_PAGE = 1000;
const TRANSCRIPT_PAGE = 500;
/** Messages newer than `until` are read only to be skipped; that reading is bounded too. */
const SKIP_FACTOR = 4;

export interface HistoryReader {
  history(tenant: string | undefined, ch: string, since: string | undefined, limit: number): Promise<{ frames: string[]; recovered: boolean; off: string }>;
}

export interface ChannelHistoryQuery {
  tenant?: string;
  ch: string;
  since?: string;
  limit?: number;
  timeZone: string;
  pageSize: "A4" | "Letter";
}

/** The channel-history template's input: every retained message after `since` (or the last `limit`), within `maxInputBytes`. */
export async function channelHistoryInput(api: HistoryReader, q: ChannelHistoryQuery, maxInputBytes: number): Promise<{ input: BuiltInput; messages: number }> {
  const { tenant, ch, since, limit } = q;
  let frames: string[];
  let olderNotRetained = false;
  if (limit !== undefined && since === undefined) {
    frames = (await api.history(tenant, ch, undefined, limit)).frames;
  } else {
    frames = [];
    let bytes = 0;
    let cursor = since ?? "0";
    for (let first = true; ; first = false) {
      const res = await api.history(tenant, ch, cursor, HISTORY_PAGE);
      if (first && !res.recovered && res.off !== cursor) olderNotRetained = true;
      for (const f of res.frames) {
        bytes += f.length;
        frames.push(f);
      }
      if (bytes > maxInputBytes) throw new SwitchboardError("MESSAGE_TOO_LARGE", `the channel's history is larger than ${maxInputBytes} bytes (REPORT_MAX_INPUT_BYTES); narrow it with since= or limit=`);
      if (limit !== undefined && frames.length >= limit) {
        frames.length = limit;
        break;
      }
      if (res.frames.length < HISTORY_PAGE) break;
      cursor = (JSON.parse(res.frames[res.frames.length - 1]!) as { off: string }).off;
    }
  }
  const input = { ...(tenant ? { tenant } : {}), timeZone: q.timeZone, pageSize: q.pageSize, channel: ch, frames, olderNotRetained, ...(limit !== undefined ? { limit } : {}), ...(since ? { since } : {}) };
  return { input, messages: frames.length };
}

export interface ConversationReader {
  conversation(tenant: string, id: string): Promise<Conversation | undefined>;
  messages(tenant: string, id: string, before: number | undefined, limit: number): Promise<MessagePage>;
}

export interface TranscriptQuery {
  tenant: string;
  id: string;
  since?: number;
  until?: number;
  timeZone: string;
  pageSize: "A4" | "Letter";
}

export interface TranscriptOptions {
  maxInputBytes: number;
  /** The chat namespace's `retention`: days a message is kept, or "forever". */
  retention: number | "forever" | undefined;
}

export interface TranscriptInput {
  input: BuiltInput;
  conversation: Conversation;
  messages: number;
  redacted: number;
}

/** Thrown when a transcript's messages exceed the input cap; `messages` were read by then (for the audit line). */
export class TranscriptTooLarge extends SwitchboardError {
  constructor(
    message: string,
    readonly messages: number,
  ) {
    super("MESSAGE_TOO_LARGE", message);
  }
}

/**
 * The conversation-transcript template's input: messages from the record
 * store in pages of 500 (newest first, as the store pages), within
 * REPORT_MAX_INPUT_BYTES, with a note when older messages were not retained.
 */
export async function transcriptInput(chat: ConversationReader, q: TranscriptQuery, o: TranscriptOptions, nowMs: number): Promise<TranscriptInput> {
  const conv = await chat.conversation(q.tenant, q.id);
  if (!conv) throw new SwitchboardError("RESOURCE_NOT_FOUND", `no conversation ${q.id}${q.tenant ? ` in tenant ${q.tenant}` : ""}`);
  const picked: ChatMessage[] = [];
  let kept = 0;
  let skipped = 0;
  let before: number | undefined;
  paging: for (;;) {
    const page = await chat.messages(q.tenant, q.id, before, TRANSCRIPT_PAGE);
    for (let k = page.messages.length - 1; k >= 0; k--) {
      const m = page.messages[k]!;
      const size = Buffer.byteLength(m.data) + Buffer.byteLength(m.from ?? "") + Buffer.byteLength(m.redactedBy ?? "") + m.ev.length + 48;
      if (q.until !== undefined && m.ts >= q.until) {
        skipped += size;
        if (skipped > SKIP_FACTOR * o.maxInputBytes) throw new TranscriptTooLarge(`more than ${SKIP_FACTOR * o.maxInputBytes} bytes of messages are newer than until= (${SKIP_FACTOR}× REPORT_MAX_INPUT_BYTES); ask for a more recent range`, 0);
        continue;
      }
      if (q.since !== undefined && m.ts < q.since) break paging;
      kept += size;
      if (kept > o.maxInputBytes) throw new TranscriptTooLarge(`the conversation's messages are larger than ${o.maxInputBytes} bytes (REPORT_MAX_INPUT_BYTES); narrow it with since= and until=`, picked.length);
      picked.push(m);
    }
    if (!page.more || page.messages.length === 0) break;
    before = page.messages[0]!.off;
  }
  picked.reverse();
  const retentionMs = typeof o.retention === "number" ? o.retention * 86_400_000 : undefined;
  const retainedFrom = retentionMs === undefined ? undefined : nowMs - retentionMs;
  const gone = retainedFrom !== undefined && (q.since ?? conv.createdMs) < retainedFrom;
  const messages = picked.map((m) => ({ off: m.off, ts: m.ts, from: m.from, ev: m.ev, data: m.data, ...(m.redactedBy !== undefined ? { redactedBy: m.redactedBy, redactedMs: m.redactedMs } : {}) }));
  const input = {
    ...(q.tenant ? { tenant: q.tenant } : {}),
    timeZone: q.timeZone,
    pageSize: q.pageSize,
    conversation: conv.id,
    title: conv.title,
    members: [...conv.members].sort((a, b) => a.localeCompare(b)),
    messages,
    ...(q.since !== undefined ? { since: q.since } : {}),
    ...(q.until !== undefined ? { until: q.until } : {}),
    ...(gone ? { retainedFrom, retentionDays: o.retention as number } : {}),
  };
  return { input, conversation: conv, messages: messages.length, redacted: messages.filter((m) => m.redactedBy !== undefined).length };
}

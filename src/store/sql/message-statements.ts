import type { ChatMessage } from "../ports.ts";
import type { SqlStatement } from "./driver.ts";

// Columns in another order than appendMessage's: the merge key differs, so the two never share one INSERT (and its tail).
const PUT_INTO = "INSERT INTO chat_messages (tenant, conversation, off, sender, ev, data, ts, expires_ms)";
const PUT_TAIL = `ON CONFLICT (tenant, conversation, off) DO UPDATE SET sender = excluded.sender, ev = excluded.ev, data = excluded.data,
  ts = excluded.ts, expires_ms = excluded.expires_ms, redacted_by = NULL, redacted_ms = NULL`;

/** Store.putMessage as batched statements: the message, replacing what is under its offset, and the conversation's activity time. */
export function putMessageStatements(tenant: string, conversation: string, msg: ChatMessage, expiresMs: number | null): SqlStatement[] {
  return [
    {
      sql: PUT_INTO + " VALUES (?, ?, ?, ?, ?, ?, ?, ?) " + PUT_TAIL,
      params: [tenant, conversation, msg.off, msg.from, msg.ev, msg.data, msg.ts, expiresMs],
      merge: PUT_INTO,
      mergeTail: PUT_TAIL,
    },
    {
      sql: "UPDATE conversations SET active_ms = ? WHERE tenant = ? AND id = ? AND active_ms < ?",
      params: [msg.ts, tenant, conversation, msg.ts],
      last: "active\u0000" + tenant + "\u0000" + conversation,
    },
  ];
}

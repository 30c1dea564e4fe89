import { SwitchboardError } from "../../protocol/errors.ts";

const MAX_CONTEXT_BYTES = 4096;

/** A call's optional context (a visit id, a case) as stored JSON text; bounded so a call record stays small. */
export function encodeContext(context: unknown): string | null {
  if (context === undefined || context === null) return null;
  const text = JSON.stringify(context);
  if (text.length > MAX_CONTEXT_BYTES) throw new SwitchboardError("MESSAGE_TOO_LARGE", `context: at most ${MAX_CONTEXT_BYTES} bytes of JSON`);
  return text;
}

import { budgetMessage, jsonOverBudget } from "../protocol/json-budget.ts";
import { SwitchboardError } from "../protocol/errors.ts";

/**
 * Largest frame accepted before `auth`: an auth frame is a token (at most
 * 16 KiB) and a few fields, so anything bigger is not one and would only
 * cost parse time on an unauthenticated socket.
 */
export const PRE_AUTH_MAX_FRAME = 20 * 1024;

const tooLargeBeforeAuth = () => new SwitchboardError("MESSAGE_TOO_LARGE", `frames before authentication are limited to ${PRE_AUTH_MAX_FRAME} bytes`);

/**
 * The work budget of one text frame, checked before JSON.parse: why it is
 * refused, or undefined. Costs one scan of the frame's structure.
 */
export function frameOverBudget(raw: string, authenticated: boolean): SwitchboardError | undefined {
  if (!authenticated && raw.length > PRE_AUTH_MAX_FRAME) return tooLargeBeforeAuth();
  const excess = jsonOverBudget(raw);
  return excess === undefined ? undefined : new SwitchboardError("BAD_REQUEST", budgetMessage(excess, "frame"));
}

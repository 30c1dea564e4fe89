import { MAX_JSON_DEPTH, nestsDeeperThan } from "../protocol/json-budget.ts";
import { SwitchboardError } from "../protocol/errors.ts";

/**
 * Largest frame accepted before `auth`: an auth frame is a token (at most
 * 16 KiB) and a few fields, so anything bigger is not one and would only
 * cost parse time on an unauthenticated socket.
 */
export const PRE_AUTH_MAX_FRAME = 20 * 1024;

const tooDeep = () => new SwitchboardError("BAD_REQUEST", `frame nests deeper than ${MAX_JSON_DEPTH} levels`);
const tooLargeBeforeAuth = () => new SwitchboardError("MESSAGE_TOO_LARGE", `frames before authentication are limited to ${PRE_AUTH_MAX_FRAME} bytes`);

/**
 * The work budget of one text frame, checked before JSON.parse: why it is
 * refused, or undefined. Costs one scan of the frame's brackets.
 */
export function frameOverBudget(raw: string, authenticated: boolean): SwitchboardError | undefined {
  if (!authenticated && raw.length > PRE_AUTH_MAX_FRAME) return tooLargeBeforeAuth();
  return nestsDeeperThan(raw, MAX_JSON_DEPTH) ? tooDeep() : undefined;
}

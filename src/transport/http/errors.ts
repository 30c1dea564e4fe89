import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { HTTP_STATUS } from "../../protocol/codes.ts";
import { SwitchboardError, toSwitchboardError } from "../../protocol/errors.ts";
import { budgetMessage, jsonOverBudget } from "../../protocol/json-budget.ts";

/** The HTTP error body of PROTOCOL.md §6: `{"error":{"code","message"}}` with the table's status. */
export function errorResponse(err: SwitchboardError): Response {
  return new Response(JSON.stringify({ error: { code: err.code, message: err.message, ...(err.retryAfter !== undefined ? { retryAfter: err.retryAfter } : {}) } }), {
    status: HTTP_STATUS[err.code],
    // Also answers refused upgrades, which never pass the Hono app's headers middleware.
    headers: {
      "content-type": "application/json",
      "x-content-type-options": "nosniff",
      ...(err.retryAfter !== undefined ? { "retry-after": String(Math.max(1, Math.ceil(err.retryAfter / 1000))) } : {}),
    },
  });
}

/** Hono's onError: everything becomes a SwitchboardError response; unknown errors are logged by the caller. */
export function toHttpError(err: unknown): SwitchboardError {
  if (err instanceof HTTPException) {
    if (err.status === 413) return new SwitchboardError("MESSAGE_TOO_LARGE", "request body is too large");
    if (err.status === 401) return new SwitchboardError("AUTHENTICATION_FAILED", err.message || "authentication required");
    return new SwitchboardError("BAD_REQUEST", err.message || "bad request");
  }
  return toSwitchboardError(err);
}

export async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!type.toLowerCase().includes("application/json")) throw new SwitchboardError("BAD_REQUEST", "content-type must be application/json");
  let text: string;
  try {
    text = await c.req.text();
  } catch (err) {
    if (err instanceof HTTPException) throw err;
    throw new SwitchboardError("BAD_REQUEST", "request body cannot be read");
  }
  return parseJsonBody(text);
}

/** JSON.parse of a request body within the JSON budget (a deep or very wide body is refused before it is parsed). */
export function parseJsonBody(text: string): unknown {
  const excess = jsonOverBudget(text);
  if (excess !== undefined) throw new SwitchboardError("BAD_REQUEST", budgetMessage(excess, "request body"));
  try {
    return JSON.parse(text);
  } catch {
    throw new SwitchboardError("BAD_REQUEST", "request body is not valid JSON");
  }
}

import type { MiddlewareHandler } from "hono";
import { timingSafeEqual } from "node:crypto";
import { SwitchboardError } from "../../protocol/errors.ts";

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Requires `Authorization: Bearer <api key>`; user JWTs are refused here by design. */
export function requireApiKey(keys: readonly string[]): MiddlewareHandler<{ Variables: { apiKey: number } }> {
  const encoded = keys.map((k) => Buffer.from(k));
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m) throw new SwitchboardError("AUTHENTICATION_FAILED", "an API key is required (Authorization: Bearer <key>)");
    const given = Buffer.from(m[1]!.trim());
    const index = encoded.findIndex((k) => k.length === given.length && timingSafeEqual(k, given));
    if (index < 0) {
      if (JWT_SHAPE.test(m[1]!.trim())) throw new SwitchboardError("AUTHENTICATION_FAILED", "user tokens are not accepted by the server API; use an API key");
      throw new SwitchboardError("AUTHENTICATION_FAILED", "invalid API key");
    }
    c.set("apiKey", index);
    await next();
  };
}

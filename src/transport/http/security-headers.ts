import type { MiddlewareHandler } from "hono";

/**
 * Pages may load scripts and styles from this origin only and talk to it
 * (the WebSocket included: CSP 3 'self' covers ws/wss of the same host).
 * Inline styles are allowed (the demo page has one style block); inline
 * scripts are not.
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** One year, as browsers' preload lists expect. */
const HSTS = "max-age=31536000; includeSubDomains";

/** Headers on every HTTP answer: no MIME sniffing, HSTS when served over TLS, a CSP on HTML pages. */
export function securityHeaders(tls: boolean): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const h = c.res.headers;
    h.set("x-content-type-options", "nosniff");
    h.set("referrer-policy", "no-referrer");
    if (tls) h.set("strict-transport-security", HSTS);
    if (h.get("content-type")?.startsWith("text/html")) h.set("content-security-policy", PAGE_CSP);
  };
}

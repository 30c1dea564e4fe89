import { SignJWT } from "jose";

/**
 * The one development identity. The token `npm start` prints, `npm run token`
 * without flags, the tokens /demo hands out and the README's curl all use this
 * tenant, so what the tour publishes shows up in the demo page.
 */
export const DEV_TENANT = "acme";

export interface DevClaims {
  sub: string;
  tenant?: string;
  roles?: string[];
  rooms?: string[];
  [claim: string]: unknown;
}

export const DEV_CLAIMS: DevClaims = { sub: "alice", tenant: DEV_TENANT, roles: ["nurse"], rooms: ["lobby"] };

/** Signs an HS256 development token; `exp` in jose's notation ("12h", "30m", …). */
export function signDevToken(secret: string, claims: DevClaims, exp = "12h"): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime(exp).sign(new TextEncoder().encode(secret));
}

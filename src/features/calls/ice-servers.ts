import { createHmac } from "node:crypto";

export interface IceConfig {
  stunUrls: readonly string[];
  turnUrls: readonly string[];
  /** coturn's `static-auth-secret` (`use-auth-secret`); undefined = no TURN credentials. */
  turnSecret: string | undefined;
  turnTtlSec: number;
}

export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/**
 * RTCPeerConnection `iceServers` for one user, with TURN credentials in
 * coturn's time-limited scheme: username `<expiry unix s>:<user>`,
 * credential base64(HMAC-SHA1(secret, username)). TURN checks both, so a
 * client never holds the shared secret and a leaked credential expires.
 */
export function iceServersFor(cfg: IceConfig, user: string, nowMs: number): { iceServers: IceServer[]; ttlSec: number } {
  const out: IceServer[] = [];
  if (cfg.stunUrls.length > 0) out.push({ urls: [...cfg.stunUrls] });
  if (cfg.turnUrls.length > 0 && cfg.turnSecret !== undefined) {
    const username = Math.floor(nowMs / 1000 + cfg.turnTtlSec) + ":" + user;
    const credential = createHmac("sha1", cfg.turnSecret).update(username).digest("base64");
    out.push({ urls: [...cfg.turnUrls], username, credential });
  }
  return { iceServers: out, ttlSec: cfg.turnTtlSec };
}

import { createRemoteJWKSet, errors as joseErrors, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type CryptoKey as JoseKey } from "jose";
import { SwitchboardError } from "../protocol/errors.ts";
import { verifyHs256 } from "./hs256.ts";
import type { Principal } from "./ports.ts";

export interface TokenVerifierOptions {
  secret?: string;
  publicKey?: string;
  algorithm: "RS256" | "ES256";
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** Production requires `exp`. */
  requireExp: boolean;
  /** Claims that channel rules read (`claim:<name>`); only these are kept per connection. */
  claimNames: readonly string[];
}

const NO_ROLES: readonly string[] = Object.freeze([]);
const NO_CLAIMS: Readonly<Record<string, readonly string[] | string>> = Object.freeze({});
const INTERN_MAX = 100_000;

const TENANT = /^[A-Za-z0-9_.:@=\-]{1,128}$/;
const SUB = /^[^\u0000-\u001f/]{1,256}$/;

/** Verifies user JWTs (HS256 on a synchronous path, RS256, ES256 and JWKS with jose) and turns them into principals. */
export class TokenVerifier {
  private readonly key: Promise<Uint8Array | JoseKey | JWTVerifyGetKey> | undefined;
  /** HS256 secret for the synchronous fast path (hs256.ts). */
  private readonly hsKey: Buffer | undefined;
  private readonly algorithms: string[];
  /** Tenant ids, roles and claim values repeat across connections; one copy each keeps ws state small. */
  private readonly interned = new Map<string, string>();
  /** Tenant ids already checked against TENANT, each kept once. */
  private readonly tenants = new Map<string, string>();
  /** Identical claim sets (a class sharing its rooms) share one frozen object. */
  private readonly claimSets = new Map<string, Readonly<Record<string, readonly string[] | string>>>();

  constructor(private readonly opts: TokenVerifierOptions) {
    if (opts.jwksUrl) {
      this.key = Promise.resolve(createRemoteJWKSet(new URL(opts.jwksUrl)));
      this.algorithms = ["RS256", "ES256"];
    } else if (opts.publicKey) {
      this.key = importSPKI(opts.publicKey, opts.algorithm);
      this.algorithms = [opts.algorithm];
    } else if (opts.secret) {
      this.hsKey = Buffer.from(opts.secret);
      this.algorithms = ["HS256"];
    } else {
      throw new TypeError("TokenVerifier needs a secret, a public key or a JWKS URL");
    }
  }

  /** Resolves the principal or throws AUTHENTICATION_FAILED with a reason that never quotes the token. */
  async verify(token: string): Promise<Principal> {
    return this.verifyNow(token);
  }

  /**
   * verify() that answers at once when it can: HS256 tokens are checked
   * synchronously (a principal, or a thrown AUTHENTICATION_FAILED), so an
   * upgrade needs no promise; keys that jose must fetch or import give a
   * promise. Either way the only failure is an AUTHENTICATION_FAILED SwitchboardError.
   */
  verifyNow(token: string): Principal | Promise<Principal> {
    if (!this.hsKey) return this.verifyWithJose(token);
    try {
      const payload = verifyHs256(token, this.hsKey, { issuer: this.opts.issuer, audience: this.opts.audience, requireExp: this.opts.requireExp });
      return this.principal(payload);
    } catch (err) {
      // Callers may rely on it: whatever goes wrong is an AUTHENTICATION_FAILED SwitchboardError.
      throw err instanceof SwitchboardError ? err : new SwitchboardError("AUTHENTICATION_FAILED", "token could not be verified", { cause: err });
    }
  }

  private async verifyWithJose(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      const key = await this.key!;
      const r = await jwtVerify(token, key as Uint8Array, {
        algorithms: this.algorithms,
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        requiredClaims: this.opts.requireExp ? ["sub", "exp"] : ["sub"],
      });
      payload = r.payload;
    } catch (err) {
      throw new SwitchboardError("AUTHENTICATION_FAILED", reason(err), { cause: err });
    }
    return this.principal(payload);
  }

  private principal(payload: JWTPayload): Principal {
    assertIntegerDates(payload);
    const sub = payload.sub;
    if (typeof sub !== "string" || !SUB.test(sub)) throw new SwitchboardError("AUTHENTICATION_FAILED", "token sub claim is invalid");
    const tenant = payload.tenant;
    let tenantId = "";
    if (tenant !== undefined) {
      // A tenant seen before was checked then: its kept copy is the answer.
      const known = typeof tenant === "string" ? this.tenants.get(tenant) : undefined;
      if (known !== undefined) tenantId = known;
      else {
        if (typeof tenant !== "string" || !TENANT.test(tenant)) throw new SwitchboardError("AUTHENTICATION_FAILED", "token tenant claim is invalid");
        tenantId = this.intern(tenant);
        if (this.tenants.size < INTERN_MAX) this.tenants.set(tenantId, tenantId);
      }
    }
    const roles = payload.roles;
    if (roles !== undefined && (!Array.isArray(roles) || !roles.every((r) => typeof r === "string"))) {
      throw new SwitchboardError("AUTHENTICATION_FAILED", "token roles claim must be an array of strings");
    }
    let raw: Record<string, unknown> | undefined;
    for (const name of this.opts.claimNames) {
      const value = payload[name];
      if (typeof value === "string" || Array.isArray(value)) (raw ??= {})[name] = value;
    }
    return {
      sub,
      claims: raw === undefined ? NO_CLAIMS : this.shareClaims(raw),
      tenant: tenantId,
      roles: roles === undefined || (roles as string[]).length === 0 ? NO_ROLES : this.shareList((roles as string[]).map((r) => this.intern(r))),
      expMs: typeof payload.exp === "number" ? payload.exp * 1000 : undefined,
    };
  }

  /**
   * The claims rules read, from the token's own values of them (`raw`): one
   * frozen object per distinct set, looked up by the raw values' JSON (which
   * decides the result), so a set seen before is neither filtered nor copied again.
   */
  private shareClaims(raw: Record<string, unknown>): Readonly<Record<string, readonly string[] | string>> {
    const key = JSON.stringify(raw);
    const hit = this.claimSets.get(key);
    if (hit) return hit;
    const claims: Record<string, readonly string[] | string> = {};
    for (const name in raw) {
      const value = raw[name];
      if (typeof value === "string") claims[name] = this.intern(value);
      else claims[name] = (value as unknown[]).filter((x) => typeof x === "string" || typeof x === "number").map((x) => this.intern(String(x)));
    }
    const frozen = Object.freeze(claims);
    if (this.claimSets.size < INTERN_MAX) this.claimSets.set(key, frozen);
    return frozen;
  }

  private shareList(list: string[]): readonly string[] {
    const key = "\u0000" + list.join("\u0000");
    const hit = this.claimSets.get(key) as unknown as readonly string[] | undefined;
    if (hit) return hit;
    const frozen = Object.freeze(list);
    if (this.claimSets.size < INTERN_MAX) this.claimSets.set(key, frozen as unknown as Record<string, string>);
    return frozen;
  }

  private intern(s: string): string {
    const hit = this.interned.get(s);
    if (hit !== undefined) return hit;
    if (this.interned.size < INTERN_MAX) this.interned.set(s, s);
    return s;
  }
}

/**
 * `exp`, `nbf` and `iat` must be safe integers (PROTOCOL.md §2): jose takes
 * any number, so `exp: 1e400` would be a token that never expires and a
 * `hello` with `"exp":Infinity`, which is not JSON.
 */
function assertIntegerDates(payload: JWTPayload): void {
  for (const claim of ["exp", "nbf", "iat"] as const) {
    const value = payload[claim];
    if (value !== undefined && !Number.isSafeInteger(value)) throw new SwitchboardError("AUTHENTICATION_FAILED", `token ${claim} claim must be an integer`);
  }
}

function reason(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return "token expired";
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === "aud") return "token audience is not accepted";
    if (err.claim === "iss") return "token issuer is not accepted";
    if (err.claim === "nbf") return "token is not yet valid";
    return `token ${err.claim} claim is missing or invalid`;
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "token signature is invalid";
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "token algorithm is not accepted";
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return "token is malformed";
  return "token could not be verified";
}

import { describe, expect, test } from "bun:test";
import { CompactSign, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { TokenVerifier } from "../../src/hub/token-verifier.ts";
import { SwitchboardError } from "../../src/protocol/errors.ts";

/** PROTOCOL.md §2: `exp`, `nbf`, `iat` must be safe integers; any other value refuses the token, on every key type. */

const SECRET = "claims-secret-of-at-least-32-bytes-long!";
const now = () => Math.floor(Date.now() / 1000);
const b64 = (s: string) => Buffer.from(s).toString("base64url");

/** Payloads as JSON text: 1e400 cannot be written with JSON.stringify. */
const BAD = [
  `{"sub":"a","exp":1e400}`,
  `{"sub":"a","exp":${now() + 60}.5}`,
  `{"sub":"a","exp":${2 ** 53 + 2}}`,
  `{"sub":"a","exp":${now() + 60},"nbf":-1e400}`,
  `{"sub":"a","exp":${now() + 60},"iat":1e400}`,
  `{"sub":"a","exp":${now() + 60},"iat":${now()}.25}`,
];
const GOOD = `{"sub":"a","exp":${now() + 60},"iat":${now()},"nbf":${now() - 5}}`;

async function verifyResult(v: TokenVerifier, token: string): Promise<string> {
  try {
    const p = await v.verify(token);
    return "ok " + p.expMs;
  } catch (err) {
    expect(err).toBeInstanceOf(SwitchboardError);
    expect((err as SwitchboardError).code).toBe("AUTHENTICATION_FAILED");
    return (err as SwitchboardError).message;
  }
}

describe("numeric dates must be safe integers", () => {
  test("HS256 (the synchronous fast path)", async () => {
    const v = new TokenVerifier({ secret: SECRET, algorithm: "RS256", requireExp: false, claimNames: [] });
    const sign = (payload: string) => {
      const head = b64('{"alg":"HS256"}') + "." + b64(payload);
      const mac = new Bun.CryptoHasher("sha256", SECRET).update(head).digest("base64url");
      return head + "." + mac;
    };
    for (const p of BAD) expect(await verifyResult(v, await sign(p))).toMatch(/claim must be an integer/);
    expect(await verifyResult(v, await sign(GOOD))).toStartWith("ok ");
  });

  test("ES256 (through jose)", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const v = new TokenVerifier({ publicKey: await exportSPKI(publicKey), algorithm: "ES256", requireExp: false, claimNames: [] });
    // SignJWT serializes with JSON.stringify; a compact JWS signs the payload text as written.
    const sign = (payload: string) => new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: "ES256" }).sign(privateKey);
    for (const p of BAD) expect(await verifyResult(v, await sign(p))).toMatch(/claim must be an integer/);
    expect(await verifyResult(v, await sign(GOOD))).toStartWith("ok ");
    expect(await verifyResult(v, await new SignJWT({ sub: "b" }).setProtectedHeader({ alg: "ES256" }).setIssuedAt().setExpirationTime("1h").sign(privateKey))).toStartWith("ok ");
  });
});

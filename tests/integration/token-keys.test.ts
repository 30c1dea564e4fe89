import { afterAll, expect, test } from "bun:test";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

const dir = mkdtempSync(join(tmpdir(), "sb-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refusedWith(wsUrl: string, jwt: string): Promise<{ code: string; close: number }> {
  const c = await TestClient.connect(wsUrl);
  c.send({ t: "auth", token: jwt });
  const err = await c.next((f) => f.t === "err");
  return { code: err.code, close: (await c.closed).code };
}

test("JWT_PUBLIC_KEY given as a path to a PEM file verifies that key's tokens and no other", async () => {
  const rsa = await generateKeyPair("RS256");
  const other = await generateKeyPair("RS256");
  const file = join(dir, "signing.pem");
  writeFileSync(file, await exportSPKI(rsa.publicKey));
  const s = await startServer({ env: { JWT_SECRET: "", JWT_PUBLIC_KEY: file, JWT_ALGORITHM: "RS256" } });
  try {
    const good = await new SignJWT({ sub: "pem-user" }).setProtectedHeader({ alg: "RS256" }).setExpirationTime("5m").sign(rsa.privateKey);
    const { hello, client } = await TestClient.auth(s.wsUrl, good);
    expect(hello.user).toBe("pem-user");
    client.close();
    const forged = await new SignJWT({ sub: "pem-user" }).setProtectedHeader({ alg: "RS256" }).setExpirationTime("5m").sign(other.privateKey);
    expect(await refusedWith(s.wsUrl, forged)).toEqual({ code: "AUTHENTICATION_FAILED", close: 4001 });
  } finally {
    await s.stop();
  }
}, 30_000);

test("JWT_PUBLIC_KEY naming a file that does not exist is refused at start", async () => {
  const err = await startServer({ env: { JWT_SECRET: "", JWT_PUBLIC_KEY: join(dir, "missing.pem") } }).then(
    async (s) => (await s.stop(), undefined),
    (e: Error) => e,
  );
  expect(err?.message).toContain("JWT_PUBLIC_KEY: neither a PEM key nor a readable file");
});

test("JWT_JWKS_URL: tokens are verified with the key their kid names, fetched from a real JWKS endpoint", async () => {
  const a = await generateKeyPair("ES256");
  const b = await generateKeyPair("ES256");
  const stranger = await generateKeyPair("ES256");
  const keys = [
    { ...(await exportJWK(a.publicKey)), kid: "key-a", alg: "ES256", use: "sig" },
    { ...(await exportJWK(b.publicKey)), kid: "key-b", alg: "ES256", use: "sig" },
  ];
  let fetched = 0;
  const idp = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (fetched++, Response.json({ keys })) });
  const s = await startServer({ env: { JWT_SECRET: "", JWT_JWKS_URL: `http://127.0.0.1:${idp.port}/.well-known/jwks.json` } });
  try {
    const sign = (key: CryptoKey, kid: string, sub: string) => new SignJWT({ sub }).setProtectedHeader({ alg: "ES256", kid }).setExpirationTime("5m").sign(key);
    for (const [key, kid, sub] of [[a.privateKey, "key-a", "ann"], [b.privateKey, "key-b", "ben"]] as const) {
      const { hello, client } = await TestClient.auth(s.wsUrl, await sign(key, kid, sub));
      expect(hello.user).toBe(sub);
      client.close();
    }
    expect(fetched).toBeGreaterThanOrEqual(1);
    // Signed by a key the JWKS does not hold (under a kid it does hold, and under an unknown one).
    expect(await refusedWith(s.wsUrl, await sign(stranger.privateKey, "key-a", "eve"))).toEqual({ code: "AUTHENTICATION_FAILED", close: 4001 });
    expect(await refusedWith(s.wsUrl, await sign(stranger.privateKey, "key-z", "eve"))).toEqual({ code: "AUTHENTICATION_FAILED", close: 4001 });
  } finally {
    await s.stop();
    idp.stop(true);
  }
}, 30_000);

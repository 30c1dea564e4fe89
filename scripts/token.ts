/**
 * Mints a development token: npm run token -- --sub alice --tenant acme --roles nurse --rooms lobby,ward --exp 12h
 * Signs with JWT_SECRET (env or SWITCHBOARD_CONFIG file), or in development without one with the
 * dev secret that `npm start` keeps in DATA_DIR — the same secret the server verifies with.
 */
import { SignJWT } from "jose";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../src/config/load.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    sub: { type: "string" },
    tenant: { type: "string" },
    roles: { type: "string" },
    rooms: { type: "string" },
    students: { type: "string" },
    cases: { type: "string" },
    calls: { type: "string" },
    exp: { type: "string", default: "12h" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help || !values.sub) {
  process.stderr.write("usage: npm run token -- --sub <user> [--tenant t] [--roles a,b] [--rooms r1,r2] [--students ..] [--cases ..] [--calls ..] [--exp 12h]\n");
  process.exit(values.help ? 0 : 2);
}
let secret: string | undefined;
try {
  const cfg = loadConfig();
  secret = cfg.jwt.generated && cfg.env === "production" ? undefined : cfg.jwt.secret;
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(err.message + "\n");
  process.exit(2);
}
if (!secret) {
  process.stderr.write("set JWT_SECRET (the same value the server uses) to mint tokens, e.g. JWT_SECRET=... npm run token -- --sub alice\n");
  process.exit(2);
}
const list = (s: string | undefined) => (s ? s.split(",").map((x) => x.trim()).filter(Boolean) : undefined);
const claims: Record<string, unknown> = { sub: values.sub };
if (values.tenant) claims.tenant = values.tenant;
for (const k of ["roles", "rooms", "students", "cases", "calls"] as const) {
  const l = list(values[k]);
  if (l) claims[k] = l;
}
const jwt = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime(values.exp!).sign(new TextEncoder().encode(secret));
process.stdout.write(jwt + "\n");

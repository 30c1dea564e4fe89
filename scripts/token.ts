/**
 * Mints a development token. Without flags it is the dev identity `npm start`
 * prints (alice @ acme, role nurse, room lobby, 12 h); each flag replaces one
 * default, an empty value drops the claim:
 *   npm run -s token -- --sub bob --rooms lobby,ward --exp 30m
 * Signs with JWT_SECRET (env or SWITCHBOARD_CONFIG file), or in development
 * without one with the dev secret that `npm start` keeps in DATA_DIR.
 */
import { parseArgs } from "node:util";
import { DEV_CLAIMS, signDevToken, type DevClaims } from "../src/config/dev-identity.ts";
import { ConfigError, loadConfig } from "../src/config/load.ts";

const USAGE =
  "usage: npm run -s token -- [--sub alice] [--tenant acme] [--roles nurse] [--rooms lobby] [--students a,b] [--cases a,b] [--calls a,b] [--exp 12h]";
const LISTS = ["roles", "rooms", "students", "cases", "calls"] as const;
const EXP = /^\d+\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks|y|yr|yrs|year|years)$/;

function fail(message: string): never {
  process.stderr.write(`npm run token: ${message}\n`);
  process.exit(2);
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    allowPositionals: false,
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
  }));
} catch (err) {
  // node:util's messages name the flag ("Unknown option '--bad'"); the stack would name only this file.
  const why = (err as Error).message.split("\n")[0]!.replace(/\. (To specify|This command).*$/, "");
  fail(`${why}; the flags are --sub --tenant --roles --rooms --students --cases --calls --exp (see --help)`);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const exp = values.exp as string;
if (!EXP.test(exp)) fail(`--exp ${JSON.stringify(exp)} is not a duration; use a number and a unit, e.g. 30m, 12h or 7d`);
const sub = (values.sub as string | undefined) ?? DEV_CLAIMS.sub;
if (sub.trim() === "") fail("--sub must not be empty: it is the user the token is for");

const list = (s: string) => s.split(",").map((x) => x.trim()).filter(Boolean);
const claims: DevClaims = { ...DEV_CLAIMS, sub };
const tenant = values.tenant as string | undefined;
if (tenant !== undefined) {
  if (tenant === "") delete claims.tenant;
  else claims.tenant = tenant;
}
for (const k of LISTS) {
  const raw = values[k] as string | undefined;
  if (raw === undefined) continue;
  const l = list(raw);
  if (l.length > 0) claims[k] = l;
  else delete claims[k];
}

let secret: string | undefined;
try {
  const cfg = loadConfig();
  secret = cfg.jwt.generated && cfg.env === "production" ? undefined : cfg.jwt.secret;
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  fail(err.message);
}
if (!secret) fail("no JWT_SECRET to sign with: set the same JWT_SECRET the server uses, e.g. JWT_SECRET=... npm run -s token");
process.stdout.write(`${await signDevToken(secret, claims, exp)}\n`);

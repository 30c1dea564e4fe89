/**
 * Prints every frame of a live subscription, one JSON line each, the way a
 * raw WebSocket client shows them: npm run -s listen -- room:lobby [more channels]
 * Token: --token, else $TOKEN, else the dev identity's (as `npm run -s token`).
 * Server: --url, else ws://localhost:$PORT/v1/ws (PORT as for `npm start`, 8080).
 */
import { parseArgs } from "node:util";
import { DEV_CLAIMS, signDevToken } from "../src/config/dev-identity.ts";
import { ConfigError, loadConfig } from "../src/config/load.ts";

function fail(message: string): never {
  process.stderr.write(`npm run listen: ${message}\n`);
  process.exit(2);
}

let parsed: { values: { url?: string; token?: string }; positionals: string[] };
try {
  parsed = parseArgs({ args: process.argv.slice(2), strict: true, allowPositionals: true, options: { url: { type: "string" }, token: { type: "string" } } });
} catch (err) {
  fail(`${(err as Error).message.split("\n")[0]}; usage: npm run -s listen -- <channel>... [--url ws://host:port/v1/ws] [--token jwt]`);
}
const channels = parsed.positionals;
if (channels.length === 0) fail("name at least one channel, e.g. npm run -s listen -- room:lobby");
const url = parsed.values.url ?? `ws://localhost:${process.env.PORT || "8080"}/v1/ws`;

let token = parsed.values.token ?? process.env.TOKEN;
if (!token) {
  try {
    const cfg = loadConfig();
    if (!cfg.jwt.secret) fail("no token: pass --token or TOKEN, or set the JWT_SECRET the server uses");
    token = await signDevToken(cfg.jwt.secret, DEV_CLAIMS);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    fail(err.message);
  }
}

const ws = new WebSocket(url);
let opened = false;
ws.onopen = () => {
  opened = true;
  ws.send(JSON.stringify({ t: "auth", token }));
  channels.forEach((ch, i) => ws.send(JSON.stringify({ t: "sub", id: i + 1, ch })));
};
ws.onmessage = (e) => process.stdout.write(`${String(e.data)}\n`);
ws.onclose = (e) => {
  if (!opened) fail(`cannot connect to ${url}: is the server running (npm start)? Set PORT or --url if it listens elsewhere`);
  process.stderr.write(`npm run listen: connection closed (${e.code}${e.reason ? ` ${e.reason}` : ""})\n`);
  process.exit(1);
};
process.on("SIGINT", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));

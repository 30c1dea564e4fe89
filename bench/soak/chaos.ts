/**
 * The chaos suite of tests/chaos with a soak budget: more publications and
 * subscribers, same checks (nothing acknowledged lost, nothing duplicated,
 * reordered or silently skipped; node fds and RSS back to baseline).
 * Usage: node_modules/.bin/bun bench/soak/chaos.ts
 *   SOAK_MESSAGES (default 1,000,000), SOAK_SUBSCRIBERS (30), SOAK_CHANNELS (200), SOAK_SEED (random)
 */
import { runChaos } from "../../tests/chaos/run.ts";

const seed = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const messages = Number(process.env.SOAK_MESSAGES ?? 1_000_000);
const subscribers = Number(process.env.SOAK_SUBSCRIBERS ?? 30);
const channels = Number(process.env.SOAK_CHANNELS ?? 200);

const r = await runChaos({ seed, messages, channels, publishers: 12, subscribers, channelsPerSubscriber: Math.ceil(channels / 4), window: 32, log: (l) => console.log(l) });
console.log(JSON.stringify(r));
const ok = r.lost === 0 && r.duplicated === 0 && r.phantom === 0 && r.mismatched === 0 && r.silentGaps === 0 && r.footprints.every((f) => f.end.fds <= f.baseline.fds + 10);
console.log(ok ? `soak seed=${seed}: ok` : `soak seed=${seed}: FAILED`);
process.exit(ok ? 0 : 1);

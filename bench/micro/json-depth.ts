/**
 * The JSON budget guard (depth and object width) every client frame passes before JSON.parse
 * (src/protocol/json-budget.ts), on the saturating chat shape's frames:
 * ns per call. `npx bun bench/micro/json-depth.ts`
 */
import { jsonOverBudget, MAX_JSON_DEPTH } from "../../src/protocol/json-budget.ts";

const nestsDeeperThan = (text: string) => jsonOverBudget(text) !== undefined;
import { BUN_CHAT_TEXTS } from "../load/chat-job.ts";

const frames = BUN_CHAT_TEXTS.map((text, q) => `{"t":"pub","id":${q + 10},"ch":"room:bench","ev":"m","data":{"s":7,"q":${q},"text":${JSON.stringify(text)}}}`);
const deep = "[".repeat(MAX_JSON_DEPTH + 1) + "]".repeat(MAX_JSON_DEPTH + 1);
if (nestsDeeperThan(frames[0]!) || !nestsDeeperThan(deep)) throw new Error("depth guard gives the wrong answer");
const rounds = 200_000;
let hits = 0;
for (let w = 0; w < 20_000; w++) for (const f of frames) if (nestsDeeperThan(f)) hits++;
const t0 = performance.now();
for (let r = 0; r < rounds; r++) for (const f of frames) if (nestsDeeperThan(f)) hits++;
const ns = ((performance.now() - t0) * 1e6) / (rounds * frames.length);
console.log(`${ns.toFixed(1)} ns per frame (${frames.length} chat frames × ${rounds} rounds, ${hits} too deep)`);

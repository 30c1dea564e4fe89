/**
 * reports: PDF reports per second per template against one Switchboard node
 * (REPORT_WORKERS worker threads, default 2), closed loop with one request in
 * flight per worker; then WebSocket publish round trips (pub → ack, one at a
 * time) idle and while 8 large reports render, p50/p99 and the ratio.
 * Usage: bun bench/run.ts reports [--quick]   (prints a Markdown table; nothing is saved)
 */
import { SignJWT } from "jose";
import * as fx from "../../tests/reports/fixtures.ts";
import { stopAll } from "../lib/procs.ts";
import { BENCH_API_KEY, BENCH_SECRET, BENCH_TENANT, targets } from "../targets.ts";

const quick = process.argv.includes("--quick");
const WORKERS = 2;
const bigTable = (rows: number) => ({ title: "Roster export", sections: [{ type: "table", columns: [{ title: "Student" }, { title: "Notes", width: 3 }], rows: Array.from({ length: rows }, (_, n) => [`Nguyễn Văn ${n}`, `Visit ${n} — temperature normal, returned to class; parent 王丽 informed`]) }] });

const TEMPLATES: Array<[string, unknown]> = [
  ["student-health-summary", fx.studentHealthSummary],
  ["medication-log", fx.medicationLog(48)],
  ["immunization-compliance", fx.immunizationCompliance],
  ["incident", fx.incident],
  ["custom", fx.custom],
  ["custom (600-row table)", bigTable(600)],
];

function pct(samples: number[], q: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? NaN;
}

const [node] = await targets.switchboard.start({ nodes: 1 });
const base = `http://127.0.0.1:${node!.port}`;
const post = (name: string, body: unknown) =>
  fetch(`${base}/v1/reports/${name.split(" ")[0]}`, { method: "POST", headers: { authorization: `Bearer ${BENCH_API_KEY}`, "content-type": "application/json" }, body: JSON.stringify({ tenant: BENCH_TENANT, ...(body as object) }) });

try {
  const rows: string[] = [];
  for (const [name, body] of TEMPLATES) {
    // One warm-up render per worker, then a fixed window.
    await Promise.all(Array.from({ length: WORKERS }, () => post(name, body).then((r) => r.arrayBuffer())));
    const windowMs = quick ? 3000 : 10_000;
    const end = performance.now() + windowMs;
    let done = 0;
    let pages = 0;
    const loop = async () => {
      while (performance.now() < end) {
        const r = await post(name, body);
        const pdf = new Uint8Array(await r.arrayBuffer());
        if (r.status !== 200) throw new Error(`${name}: ${r.status} ${new TextDecoder().decode(pdf)}`);
        done++;
        pages += Number(r.headers.get("x-report-pages"));
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: WORKERS }, loop));
    const sec = (performance.now() - t0) / 1000;
    rows.push(`| ${name} | ${(done / sec).toFixed(2)} | ${(pages / done).toFixed(0)} | ${(pages / sec).toFixed(1)} |`);
    console.error(`${name}: ${done} reports in ${sec.toFixed(1)} s`);
  }

  const jwt = await new SignJWT({ sub: "bench-ws", tenant: BENCH_TENANT, rooms: ["bench"] }).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("1h").sign(new TextEncoder().encode(BENCH_SECRET));
  const ws = new WebSocket(`ws://127.0.0.1:${node!.port}/v1/ws?access_token=${jwt}`);
  const waiting = new Map<number, () => void>();
  const hello = Promise.withResolvers<void>();
  ws.onmessage = (e) => {
    const f = JSON.parse(String(e.data)) as { t: string; id?: number };
    if (f.t === "hello") hello.resolve();
    if (f.id !== undefined) waiting.get(f.id)?.();
  };
  await hello.promise;
  let id = 0;
  const request = (frame: object) => {
    const n = ++id;
    const p = new Promise<void>((resolve) => waiting.set(n, resolve));
    ws.send(JSON.stringify({ ...frame, id: n }));
    return p.finally(() => waiting.delete(n));
  };
  await request({ t: "sub", ch: "room:bench" });
  const roundTrip = async () => {
    const t0 = performance.now();
    await request({ t: "pub", ch: "room:bench", ev: "ping", data: { t0 } });
    return performance.now() - t0;
  };
  const idle: number[] = [];
  for (let i = 0; i < (quick ? 1000 : 5000); i++) idle.push(await roundTrip());
  let rendering = true;
  const big = Array.from({ length: 8 }, () => post("custom", bigTable(quick ? 300 : 1000)).then((r) => r.arrayBuffer()));
  const all = Promise.all(big).finally(() => (rendering = false));
  const busy: number[] = [];
  while (rendering) busy.push(await roundTrip());
  await all;
  ws.close();
  const fmt = (s: number[]) => `${pct(s, 0.5).toFixed(2)} / ${pct(s, 0.99).toFixed(2)}`;
  console.log(`\n### reports (${quick ? "quick" : "full"}; ${WORKERS} report workers; shared machine, load ${(await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" ")})\n`);
  console.log("| template | reports/s | pages per report | pages/s |\n|---|---|---|---|\n" + rows.join("\n"));
  console.log(`\n| WS pub→ack round trip | samples | p50 / p99 ms |\n|---|---|---|\n| idle | ${idle.length} | ${fmt(idle)} |\n| while 8 large reports render | ${busy.length} | ${fmt(busy)} |\n\np99 ratio (during / idle): ${(pct(busy, 0.99) / pct(idle, 0.99)).toFixed(2)}`);
} finally {
  await node!.stop();
  await stopAll();
}

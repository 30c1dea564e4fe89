/** Readers for the files under deploy/: each test checks them against the code, not against copies of them. */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SETTINGS } from "../../src/config/settings.ts";

export const ROOT = join(import.meta.dir, "../..");
export const DEPLOY = join(ROOT, "deploy");

export const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");

/** Every document of a YAML file (Bun's built-in parser; `---` separates documents). */
export function yamlDocs(path: string): any[] {
  const parsed = Bun.YAML.parse(read(path)) as unknown;
  const docs = Array.isArray(parsed) && /^---/m.test(read(path)) ? parsed : [parsed];
  return docs.filter((d) => d !== null && d !== undefined);
}

export function kubernetesObjects(): { file: string; obj: any }[] {
  const dir = "deploy/kubernetes";
  const files = readdirSync(join(ROOT, dir)).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
  return files.flatMap((f) => yamlDocs(`${dir}/${f}`).map((obj) => ({ file: `${dir}/${f}`, obj })));
}

export function kind(k: string): any {
  const found = kubernetesObjects().filter((o) => o.obj.kind === k);
  if (found.length !== 1) throw new Error(`expected one ${k} in deploy/kubernetes, found ${found.length}`);
  return found[0]!.obj;
}

/** One Dockerfile instruction per entry, continuation lines joined. */
export function dockerfile(): { op: string; args: string }[] {
  const text = read("deploy/Dockerfile").replace(/\\\n/g, " ");
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const m = /^(\S+)\s+(.*)$/.exec(l)!;
      return { op: m[1]!.toUpperCase(), args: m[2]!.trim() };
    });
}

/** `ENV A=1 B=2` instructions of the final stage, as a map. */
export function dockerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of dockerfile().filter((x) => x.op === "ENV")) {
    for (const m of i.args.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, "");
  }
  return env;
}

/** KEY=VALUE lines (systemd EnvironmentFile, Environment=). */
export function envLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^(?:Environment=)?([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export function unitDirectives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

export const settingNames = new Set(Object.keys(SETTINGS));

/** README configuration table rows, by variable name. */
export function readmeRows(): Set<string> {
  return new Set([...read("README.md").matchAll(/^\| `([A-Z_][A-Z0-9_]*)` \|/gm)].map((m) => m[1]!));
}

/** Kubernetes memory quantity in bytes ("512Mi", "1Gi"). */
export function bytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`cannot read quantity ${q}`);
  const unit = m[2] === "Gi" ? 1024 ** 3 : m[2] === "Mi" ? 1024 ** 2 : m[2] === "Ki" ? 1024 : 1;
  return Number(m[1]) * unit;
}

/** The measured resident memory per idle connection (bench/RESULTS.md, connect, switchboard row), in bytes. */
export function measuredBytesPerConnection(): number {
  const results = read("bench/RESULTS.md");
  const connect = results.slice(results.indexOf("## connect"));
  const row = connect.split("\n").find((l) => l.startsWith("| switchboard |"));
  const kib = /\|\s*([\d.]+) KiB/.exec(row ?? "");
  if (!kib) throw new Error("bench/RESULTS.md has no switchboard RSS-per-connection figure");
  return Number(kib[1]) * 1024;
}

/** Kernel memory per idle TCP socket (slab), measured on this machine: deploy/OPERATIONS.md, "Sizing". */
export const KERNEL_BYTES_PER_SOCKET = 5 * 1024;
/** Resident memory of an idle node (measured: ~48 MiB on the embedded engine). */
export const BASE_BYTES = 64 * 1024 ** 2;

/** A throwaway self-signed certificate in `dir`: cert.pem, key.pem, and both.pem (HAProxy's form); plus dir/logs. */
export function throwawayTls(dir: string): { cert: string; key: string; both: string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const both = join(dir, "both.pem");
  const r = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", key, "-out", cert]);
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  writeFileSync(both, readFileSync(cert, "utf8") + readFileSync(key, "utf8"));
  mkdirSync(join(dir, "logs"), { recursive: true });
  return { cert, key, both };
}

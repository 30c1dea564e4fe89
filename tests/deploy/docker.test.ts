import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { BIN_DIR, expectDrainOnSigterm, startCommand } from "../helpers/command.ts";
import { dockerEnv, dockerfile, read, ROOT } from "./support.ts";

/** No Docker engine is needed: the image's instructions are read, and its entrypoint is run on the host. */

const instr = (op: string) => dockerfile().filter((i) => i.op === op);
const finalStage = () => {
  const all = dockerfile();
  const last = all.map((i) => i.op).lastIndexOf("FROM");
  return all.slice(last);
};
const workdir = () => finalStage().filter((i) => i.op === "WORKDIR").at(-1)!.args;
/** An exec-form command of the image, as it would run on the host (WORKDIR is the repository root). */
const onHost = (argv: string[]) => argv.map((a) => (a.startsWith(workdir() + "/") ? ROOT + a.slice(workdir().length) : a));

test("multi-stage, non-root, STOPSIGNAL SIGTERM, exec-form entrypoint, HEALTHCHECK, DATA_DIR a volume", () => {
  expect(instr("FROM").length).toBeGreaterThanOrEqual(2);
  const user = finalStage().filter((i) => i.op === "USER").at(-1)!.args;
  expect(user).not.toMatch(/^(root|0)(:|$)/);
  expect(instr("STOPSIGNAL").map((i) => i.args)).toEqual(["SIGTERM"]);
  const entry = JSON.parse(instr("ENTRYPOINT")[0]!.args) as string[];
  // The server itself, not a shell or npm that would stand between it and docker's SIGTERM.
  expect(entry).toEqual([`${workdir()}/bin/switchboard`]);
  expect(instr("CMD")).toEqual([]);
  const hc = instr("HEALTHCHECK")[0]!.args;
  expect(hc).toContain("CMD [");
  const env = dockerEnv();
  expect(JSON.parse(instr("VOLUME")[0]!.args)).toEqual([env.DATA_DIR]);
  expect(instr("EXPOSE").map((i) => i.args)).toEqual([env.PORT]);
  expect(env.NODE_ENV).toBe("production");
  const ignore = read(".dockerignore").split("\n");
  for (const p of ["node_modules", ".git", "data"]) expect(ignore).toContain(p);
});

test("the image's entrypoint, run on the host with the image's environment, serves, passes its HEALTHCHECK and drains on SIGTERM with exit 0", async () => {
  const entry = onHost(JSON.parse(instr("ENTRYPOINT")[0]!.args));
  const hcArgv = onHost(JSON.parse(instr("HEALTHCHECK")[0]!.args.slice(instr("HEALTHCHECK")[0]!.args.indexOf("CMD ") + 4)));
  // What `docker run -e …` adds to the image's own environment: a production node needs its Origin allowlist.
  const env = { ...dockerEnv(), HOST: "127.0.0.1", PORT: "0", CORS_ORIGINS: "https://care.example.org" };
  delete (env as Record<string, string>).DATA_DIR;
  const s = await startCommand(entry, { env });
  try {
    expect(s.output()).toContain('"env":"production"');
    const check = (port: number) =>
      spawnSync(hcArgv[0]!, hcArgv.slice(1), { env: { PATH: `${BIN_DIR}:${process.env.PATH}`, PORT: String(port), HOST: "0.0.0.0" }, encoding: "utf8" });
    expect(check(s.port).status).toBe(0);
    expect(await expectDrainOnSigterm(s)).toBe(0);
    // Once the node is gone the same check fails, so a dead container is reported unhealthy.
    const dead = check(s.port);
    expect(dead.status).toBe(1);
    expect(dead.stderr).toContain("/health/live");
  } finally {
    await s.cleanup();
  }
}, 60_000);

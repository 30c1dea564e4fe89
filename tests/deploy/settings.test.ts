import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { dockerEnv, envLines, kind, read, readmeRows, ROOT, settingNames, yamlDocs } from "./support.ts";

/** Every variable a deploy file sets for a Switchboard node is a real setting, documented in the README. */
function variablesSet(): { file: string; name: string }[] {
  const out: { file: string; name: string }[] = [];
  const add = (file: string, names: Iterable<string>) => {
    for (const name of names) out.push({ file, name });
  };
  add("deploy/Dockerfile", Object.keys(dockerEnv()));
  const compose = yamlDocs("deploy/compose.yaml")[0];
  for (const [name, svc] of Object.entries<any>(compose.services)) {
    if (svc.image === "switchboard:local") add(`deploy/compose.yaml (${name})`, Object.keys(svc.environment));
  }
  add("deploy/kubernetes/configmap.yaml", Object.keys(kind("ConfigMap").data));
  add("deploy/kubernetes/secret.yaml", Object.keys(kind("Secret").stringData));
  add("deploy/kubernetes/deployment.yaml", kind("Deployment").spec.template.spec.containers[0].env.map((e: any) => e.name));
  // PATH is the service's own environment, not a Switchboard setting.
  add("deploy/systemd/switchboard.service", Object.keys(envLines(read("deploy/systemd/switchboard.service"))).filter((k) => k !== "PATH"));
  add("deploy/systemd/switchboard.env", Object.keys(envLines(read("deploy/systemd/switchboard.env"))));
  return out;
}

test("deploy files set only variables the configuration reads, each in the README table", () => {
  const vars = variablesSet();
  expect(vars.length).toBeGreaterThan(20);
  const rows = readmeRows();
  expect(vars.filter((v) => !settingNames.has(v.name))).toEqual([]);
  expect(vars.filter((v) => !rows.has(v.name))).toEqual([]);
});

test("the node services of compose.yaml set the same variables (bar NODE_ID) and start production nodes on Redis", () => {
  const compose = yamlDocs("deploy/compose.yaml")[0];
  const nodes = Object.entries<any>(compose.services).filter(([, s]) => s.image === "switchboard:local");
  expect(nodes.map(([n]) => n)).toEqual(["node1", "node2", "node3"]);
  const envs = nodes.map(([, s]) => s.environment);
  for (const e of envs) {
    expect(e.NODE_ENV).toBe("production");
    expect(e.REDIS_URL).toBe("redis://redis:6379");
  }
  expect(new Set(envs.map((e) => e.NODE_ID)).size).toBe(3);
});

test("the README's Deploy section links every file under deploy/", () => {
  const readme = read("README.md");
  const section = readme.slice(readme.indexOf("## Deploy"), readme.indexOf("\n## ", readme.indexOf("## Deploy") + 3));
  const entries = readdirSync(join(ROOT, "deploy"));
  for (const e of entries) expect(section, `README Deploy section links deploy/${e}`).toContain(`(deploy/${e}`);
});

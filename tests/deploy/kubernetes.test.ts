import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BASE_BYTES, bytes, kind, KERNEL_BYTES_PER_SOCKET, kubernetesObjects, measuredBytesPerConnection, ROOT, yamlDocs } from "./support.ts";

const deployment = () => kind("Deployment");
const pod = () => deployment().spec.template.spec;
const container = () => pod().containers.find((c: any) => c.name === "switchboard");
const config = () => kind("ConfigMap").data as Record<string, string>;

test("every manifest parses and kustomization.yaml lists each of them", () => {
  const k = yamlDocs("deploy/kubernetes/kustomization.yaml")[0];
  const files = new Set(kubernetesObjects().map((o) => o.file.replace("deploy/kubernetes/", "")));
  expect(new Set(k.resources)).toEqual(files);
  for (const o of kubernetesObjects()) {
    expect(typeof o.obj.apiVersion, o.file).toBe("string");
    expect(typeof o.obj.metadata?.name, o.file).toBe("string");
  }
  const tuned = yamlDocs("deploy/kubernetes/tuned/kustomization.yaml")[0];
  for (const p of tuned.patches) expect(existsSync(join(ROOT, "deploy/kubernetes/tuned", p.path))).toBe(true);
});

test("probes: readiness on /health/ready, liveness on /health/live, on the container port the server listens on", () => {
  const c = container();
  const port = c.ports.find((p: any) => p.name === "http");
  expect(String(port.containerPort)).toBe(config().PORT);
  expect(c.readinessProbe.httpGet).toEqual({ path: "/health/ready", port: "http" });
  expect(c.livenessProbe.httpGet).toEqual({ path: "/health/live", port: "http" });
  expect(c.startupProbe.httpGet.path).toBe("/health/live");
});

test("SIGKILL never cuts a drain short: grace period > preStop pause + DRAIN_DEADLINE_MS", () => {
  const pre = container().lifecycle.preStop.exec.command as string[];
  expect(pre[0]).toBe("/bin/sleep");
  const pauseMs = Number(pre[1]) * 1000;
  const drainMs = Number(config().DRAIN_DEADLINE_MS);
  expect(pod().terminationGracePeriodSeconds * 1000).toBeGreaterThan(pauseMs + drainMs);
  expect(deployment().spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
});

test("memory is sized from the measured cost per connection for WS_MAX_GLOBAL_CONNECTIONS", () => {
  const r = container().resources;
  const max = Number(config().WS_MAX_GLOBAL_CONNECTIONS);
  expect(max).toBeGreaterThan(0);
  const needed = BASE_BYTES + max * (measuredBytesPerConnection() + KERNEL_BYTES_PER_SOCKET);
  expect(bytes(r.limits.memory)).toBeGreaterThanOrEqual(needed);
  // Not wildly oversized either: the limit is within 1.5x of what the connections need.
  expect(bytes(r.limits.memory)).toBeLessThan(needed * 1.5);
  expect(bytes(r.requests.memory)).toBeLessThanOrEqual(bytes(r.limits.memory));
  expect(r.requests.cpu).toBeDefined();
});

test("sysctls, non-root, topology spread", () => {
  const sc = pod().securityContext;
  expect(sc.runAsNonRoot).toBe(true);
  expect(sc.runAsUser).toBeGreaterThan(0);
  expect(sc.sysctls.map((s: any) => s.name)).toContain("net.ipv4.ip_local_port_range");
  const tuned = yamlDocs("deploy/kubernetes/tuned/sysctls.yaml")[0];
  const names = tuned.spec.template.spec.securityContext.sysctls.map((s: any) => s.name);
  expect(names).toEqual(expect.arrayContaining(["net.core.somaxconn", "net.ipv4.ip_local_port_range"]));
  const keys = pod().topologySpreadConstraints.map((t: any) => t.topologyKey);
  expect(keys).toEqual(expect.arrayContaining(["topology.kubernetes.io/zone", "kubernetes.io/hostname"]));
  expect(container().securityContext.allowPrivilegeEscalation).toBe(false);
});

test("Service, PDB and HPA point at the Deployment's pods", () => {
  const labels = deployment().spec.template.metadata.labels;
  const svc = kind("Service");
  for (const [k, v] of Object.entries(svc.spec.selector)) expect(labels[k]).toBe(v);
  expect(svc.spec.ports[0].targetPort).toBe("http");
  const pdb = kind("PodDisruptionBudget");
  for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
  expect(pdb.spec.maxUnavailable ?? pdb.spec.minAvailable).toBeDefined();
  const hpa = kind("HorizontalPodAutoscaler");
  expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: "Deployment", name: deployment().metadata.name });
  expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
  const refs = container().envFrom.map((e: any) => e.configMapRef?.name ?? e.secretRef?.name);
  expect(refs).toEqual([kind("ConfigMap").metadata.name, kind("Secret").metadata.name]);
});

import { expect, test } from "bun:test";
import { DEFAULT_NAMESPACES } from "../../src/config/policy.ts";
import { ChannelPolicy } from "../../src/hub/channel-policy.ts";
import type { Principal } from "../../src/hub/ports.ts";

const nurse = (tenant: string, rooms: string[]): Principal => ({ sub: "n1", tenant, roles: ["nurse"], claims: { rooms }, expMs: undefined });

test("routes keep tenants apart and stay right after the cache starts over", () => {
  const policy = new ChannelPolicy(DEFAULT_NAMESPACES);
  const a = policy.route("acme", "room:1");
  const b = policy.route("globex", "room:1");
  expect(a.key).toBe("acme/room:1");
  expect(b.key).toBe("globex/room:1");
  expect(policy.route("acme", "room:1")).toBe(a);
  // Far more names than the cache keeps: it starts over and still answers correctly.
  for (let i = 0; i < 10_000; i++) expect(policy.route(i % 2 ? "acme" : "", `room:${i}`).key).toBe(`${i % 2 ? "acme" : ""}/room:${i}`);
  const again = policy.route("acme", "room:1");
  expect(again.key).toBe("acme/room:1");
  expect(again.c.ns).toBe("room");
  expect(() => policy.route("acme", "nope:1")).toThrow(/namespace "nope" is not configured/);
});

test("compiled rules decide like the documented policy", () => {
  const policy = new ChannelPolicy(DEFAULT_NAMESPACES);
  const p = nurse("acme", ["7"]);
  expect(policy.canPublish(p, policy.resolve("room:7"))).toBe(true);
  expect(policy.canPublish(p, policy.resolve("room:8"))).toBe(false);
  expect(policy.canSubscribe(p, policy.resolve("student:42"))).toBe(true);
  expect(policy.canPublish(p, policy.resolve("student:42"))).toBe(false);
  expect(policy.canSubscribe(p, policy.resolve("user:n1"))).toBe(true);
  expect(policy.canSubscribe(p, policy.resolve("user:n2"))).toBe(false);
  expect(policy.canSubscribe(p, policy.resolve("org:acme"))).toBe(true);
  expect(policy.canSubscribe(p, policy.resolve("org:globex"))).toBe(false);
  expect(policy.canSubscribe({ ...p, claims: { rooms: "7" } }, policy.resolve("room:7"))).toBe(true);
});

test("a name is resolved by its own namespace only: no colon, an empty or an unknown namespace is refused after others were resolved", () => {
  const policy = new ChannelPolicy(DEFAULT_NAMESPACES);
  expect(policy.resolve("user:a").rest).toBe("a");
  // "users" minus its last character is the namespace just resolved: still not a channel name.
  expect(() => policy.resolve("users")).toThrow(/is not configured/);
  expect(() => policy.resolve(":x")).toThrow(/is not configured/);
  expect(() => policy.resolve("userx:1")).toThrow(/namespace "userx" is not configured/);
  const c = policy.resolve("user:b");
  expect([c.ns, c.rest, c.ch, c.policy]).toEqual(["user", "b", "user:b", DEFAULT_NAMESPACES.user!]);
});

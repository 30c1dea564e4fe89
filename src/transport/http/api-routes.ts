import { Hono } from "hono";
import * as v from "valibot";
import type { ServerApi } from "../../hub/server-api.ts";
import type { Logger } from "../../observability/logger.ts";
import { encodeArray } from "../../protocol/encode.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import { parseJsonBody, readJson } from "./errors.ts";

const Tenant = v.optional(v.string("must be a string"));
const EventName = v.pipe(v.string("must be a string"), v.regex(/^[^\u0000-\u001f]{1,128}$/, "must be 1–128 printable characters"));
const PublishBody = v.strictObject({ tenant: Tenant, ch: v.string("must be a string"), ev: EventName, data: v.unknown() });
const BroadcastBody = v.strictObject({
  tenant: Tenant,
  chs: v.pipe(v.array(v.string("must be a string"), "must be an array"), v.minLength(1, "must not be empty"), v.maxLength(1000, "at most 1000 channels")),
  ev: EventName,
  data: v.unknown(),
});
const DisconnectBody = v.strictObject({ tenant: Tenant, reason: v.optional(v.pipe(v.string("must be a string"), v.maxLength(100, "at most 100 characters"))) });

function parse<T extends v.GenericSchema>(schema: T, body: unknown): v.InferOutput<T> {
  const r = v.safeParse(schema, body);
  if (r.success) {
    if (((schema as unknown) === PublishBody || (schema as unknown) === BroadcastBody) && !("data" in (body as object))) throw new SwitchboardError("VALIDATION_ERROR", "data: is required");
    return r.output;
  }
  const issue = r.issues[0];
  const path = v.getDotPath(issue);
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new SwitchboardError("VALIDATION_ERROR", "body must be a JSON object");
  if (issue.type === "strict_object" && issue.input !== undefined && path) throw new SwitchboardError("VALIDATION_ERROR", `${path}: unknown field`);
  const msg = issue.input === undefined ? "is required" : issue.message.startsWith("Invalid") ? "has the wrong type" : issue.message;
  throw new SwitchboardError("VALIDATION_ERROR", `${path ?? "body"}: ${msg}`);
}

function encodeData(data: unknown): string {
  try {
    return JSON.stringify(data);
  } catch {
    throw new SwitchboardError("BAD_REQUEST", "data cannot be encoded as JSON");
  }
}

function limitParam(raw: string | undefined): number {
  if (raw === undefined) return 100;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) throw new SwitchboardError("VALIDATION_ERROR", "limit: must be an integer from 1 to 1000");
  return Number(raw);
}

function sinceParam(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,16}$/.test(raw)) throw new SwitchboardError("VALIDATION_ERROR", "since: must be an offset");
  return raw;
}

/** The server HTTP API of PROTOCOL.md §6 (mounted behind the API-key middleware). */
export function apiRoutes(api: ServerApi, logger: Logger): Hono<{ Variables: { apiKey: number; ip: string | undefined } }> {
  const r = new Hono<{ Variables: { apiKey: number; ip: string | undefined } }>();

  r.post("/publish", async (c) => {
    const b = parse(PublishBody, await readJson(c));
    const off = await api.publish(b.tenant, b.ch, b.ev, encodeData(b.data));
    logger.audit("api_publish", { key: c.get("apiKey"), ip: c.get("ip"), tenant: b.tenant ?? "", ch: b.ch, ev: b.ev });
    return c.json({ off });
  });

  r.post("/broadcast", async (c) => {
    const b = parse(BroadcastBody, await readJson(c));
    const offs = await api.broadcast(b.tenant, b.chs, b.ev, encodeData(b.data));
    logger.audit("api_broadcast", { key: c.get("apiKey"), ip: c.get("ip"), tenant: b.tenant ?? "", chs: b.chs.length, ev: b.ev });
    return c.json({ offs });
  });

  r.get("/channels/:ch/presence", async (c) => {
    const members = await api.presence(c.req.query("tenant"), c.req.param("ch"));
    logger.audit("api_presence", { key: c.get("apiKey"), tenant: c.req.query("tenant") ?? "", ch: c.req.param("ch"), members: members.length });
    return c.json({ members });
  });

  r.get("/channels/:ch/history", async (c) => {
    const res = await api.history(c.req.query("tenant"), c.req.param("ch"), sinceParam(c.req.query("since")), limitParam(c.req.query("limit")));
    logger.audit("api_history", { key: c.get("apiKey"), ip: c.get("ip"), tenant: c.req.query("tenant") ?? "", ch: c.req.param("ch"), messages: res.frames.length });
    return c.body('{"messages":' + encodeArray(res.frames) + ',"off":"' + res.off + '","recovered":' + res.recovered + (res.more ? ',"more":true' : "") + "}", 200, {
      "content-type": "application/json",
    });
  });

  r.post("/users/:user/disconnect", async (c) => {
    const text = await c.req.text();
    const body: unknown = text.trim() === "" ? {} : parseJsonBody(text);
    const b = parse(DisconnectBody, body);
    const closed = await api.disconnect(b.tenant, c.req.param("user"), b.reason ?? "disconnected by the server");
    logger.audit("api_disconnect", { key: c.get("apiKey"), ip: c.get("ip"), tenant: b.tenant ?? "", user: c.req.param("user"), closed });
    return c.json({ closed });
  });

  return r;
}

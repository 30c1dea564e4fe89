import { Hono } from "hono";
import * as v from "valibot";
import { CallId, encodeCall, Media, RingMs } from "../../features/calls/call-frames.ts";
import { encodeContext } from "../../features/calls/call-context.ts";
import type { CallService } from "../../features/calls/call-service.ts";
import { iceServersFor, type IceConfig } from "../../features/calls/ice-servers.ts";
import type { Logger } from "../../observability/logger.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { CallQuality, CallRecord, Store } from "../../store/ports.ts";
import { readJson } from "./errors.ts";
import { intParam, onlyQuery, parseBody, tenantOf, UserId } from "./body.ts";

const PostCall = v.strictObject({
  tenant: v.optional(v.string("must be a string")),
  from: UserId,
  to: v.pipe(v.array(UserId, "must be an array"), v.minLength(1, "must not be empty"), v.maxLength(64, "at most 64 users")),
  media: Media,
  context: v.optional(v.unknown()),
  ringMs: v.optional(RingMs),
});

const EndCall = v.strictObject({
  tenant: v.optional(v.string("must be a string")),
  /** Whom the record names as having ended it (a supervisor, the visit's provider); absent = the backend. */
  by: v.optional(UserId),
  reason: v.optional(v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(200, "at most 200 characters"))),
});

const AddInvitees = v.strictObject({
  tenant: v.optional(v.string("must be a string")),
  /** The participant adding them (must be in the call). */
  from: UserId,
  to: v.pipe(v.array(UserId, "must be an array"), v.minLength(1, "must not be empty"), v.maxLength(64, "at most 64 users")),
  ringMs: v.optional(RingMs),
});

type Env = { Variables: { apiKey: number } };

const callIdParam = (id: string): string => {
  if (!v.is(CallId, id)) throw new SwitchboardError("VALIDATION_ERROR", "id: must be 1–64 of [A-Za-z0-9_.@=-]");
  return id;
};

const round = (x: number) => Math.round(x * 100) / 100;

/** The quality summary of a call record: means and extremes of what its participants reported. */
function summary(q: CallQuality | undefined): Record<string, unknown> | null {
  if (!q || q.samples === 0) return null;
  const n = q.samples;
  return {
    samples: n,
    rttMs: { mean: round(q.rttMsSum / n), max: q.rttMsMax },
    jitterMs: { mean: round(q.jitterMsSum / n), max: q.jitterMsMax },
    lossPct: { mean: round(q.lossPctSum / n), max: q.lossPctMax },
    bitrateKbps: { mean: round(q.bitrateKbpsSum / n), min: q.bitrateKbpsMin },
  };
}

/** Call records, backend invites and ICE servers over HTTP (src/protocol/README.md, "Calls"). */
export function callRoutes(calls: CallService, store: Store, ice: IceConfig, logger: Logger): Hono<Env> {
  const r = new Hono<Env>();
  const record = async (tenant: string, c: CallRecord) => {
    const participants = c.participants.map((p) => ({ user: p.user, role: p.role, state: p.state, joinedTs: p.joinedMs, leftTs: p.leftMs }));
    const quality = summary(await store.calls.callQuality(tenant, c.id));
    const base = encodeCall(c);
    return base.slice(0, -1) + ',"participants":' + JSON.stringify(participants) + ',"quality":' + JSON.stringify(quality) + "}";
  };
  const json = (text: string) => new Response(text, { headers: { "content-type": "application/json" } });

  r.post("/calls", async (c) => {
    const b = parseBody(PostCall, await readJson(c));
    const tenant = tenantOf(b.tenant);
    const call = await calls.invite(tenant, b.from, b.to, b.media, encodeContext(b.context), null, b.ringMs);
    logger.audit("api_call_invite", { key: c.get("apiKey"), tenant, call: call.id, caller: b.from, invitees: call.participants.length - 1 });
    return json('{"call":' + encodeCall(call) + "}");
  });

  r.post("/calls/:id/end", async (c) => {
    const id = callIdParam(c.req.param("id"));
    const b = parseBody(EndCall, await readJson(c));
    const tenant = tenantOf(b.tenant);
    const call = await calls.end(tenant, id, b.by ?? null, b.reason ?? "ended by the server API");
    logger.audit("api_call_end", { key: c.get("apiKey"), tenant, call: id, by: b.by ?? null, outcome: call.outcome });
    return json('{"call":' + encodeCall(call) + "}");
  });

  r.post("/calls/:id/invitees", async (c) => {
    const id = callIdParam(c.req.param("id"));
    const b = parseBody(AddInvitees, await readJson(c));
    const tenant = tenantOf(b.tenant);
    const call = await calls.add(tenant, id, b.from, b.to, b.ringMs);
    logger.audit("api_call_add", { key: c.get("apiKey"), tenant, call: id, by: b.from, invitees: call.participants.length - 1 });
    return json('{"call":' + encodeCall(call) + "}");
  });

  r.get("/calls/:id", async (c) => {
    onlyQuery(c.req.query(), ["tenant"]);
    const tenant = tenantOf(c.req.query("tenant"));
    const id = callIdParam(c.req.param("id"));
    const call = await store.calls.call(tenant, id);
    if (!call) throw new SwitchboardError("RESOURCE_NOT_FOUND", "no such call");
    logger.audit("api_call_get", { key: c.get("apiKey"), tenant, call: id });
    return json(await record(tenant, call));
  });

  r.get("/users/:user/calls", async (c) => {
    onlyQuery(c.req.query(), ["tenant", "limit"]);
    const tenant = tenantOf(c.req.query("tenant"));
    const limit = intParam("limit", c.req.query("limit"), 1, 100, 50)!;
    const user = c.req.param("user");
    const list = await store.calls.callsOf(tenant, user, limit);
    logger.audit("api_call_list", { key: c.get("apiKey"), tenant, user, count: list.length });
    return json('{"calls":[' + list.map(encodeCall).join(",") + "]}");
  });

  r.get("/ice-servers", (c) => {
    onlyQuery(c.req.query(), ["user"]);
    const user = c.req.query("user");
    if (user === undefined || !v.is(UserId, user)) throw new SwitchboardError("VALIDATION_ERROR", "user: is required (1–128 printable characters)");
    return c.json(iceServersFor(ice, user, Date.now()));
  });

  return r;
}

import { Hono } from "hono";
import * as v from "valibot";
import { RosterUser } from "../../features/presence/status-frames.ts";
import type { StatusService } from "../../features/presence/status-service.ts";
import type { Logger } from "../../observability/logger.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import { onlyQuery, tenantOf } from "./body.ts";

type Env = { Variables: { apiKey: number } };

/** The roster view of presence status for backends (src/protocol/README.md, "Presence status and last seen"). */
export function statusRoutes(status: StatusService, logger: Logger): Hono<Env> {
  const r = new Hono<Env>();
  r.get("/users/status", async (c) => {
    onlyQuery(c.req.query(), ["tenant", "ids"]);
    const tenant = tenantOf(c.req.query("tenant"));
    const ids = (c.req.query("ids") ?? "").split(",").filter((x) => x !== "");
    if (ids.length === 0) throw new SwitchboardError("VALIDATION_ERROR", "ids: is required (comma-separated user ids)");
    if (ids.length > 100) throw new SwitchboardError("VALIDATION_ERROR", "ids: at most 100 users");
    if (!ids.every((id) => v.is(RosterUser, id))) throw new SwitchboardError("VALIDATION_ERROR", "ids: must be 1–128 printable characters each");
    const users = await status.roster(tenant, ids);
    logger.audit("api_user_status", { key: c.get("apiKey"), tenant, users: ids.length });
    return c.json({ users });
  });
  return r;
}

import { Hono } from "hono";
import { timingSafeEqual } from "node:crypto";
import { tokenHash } from "../../jobs/report-job.ts";
import type { Logger } from "../../observability/logger.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { ReportFileStore } from "../../store/ports.ts";
import { onlyQuery } from "./body.ts";

const FILE_ID = /^rf_[a-z0-9]{1,40}$/;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * `GET /v1/reports/files/:id?token=…`: the download link of a report a job
 * delivered to an inbox. The token is the credential (no API key: the link
 * is opened by the notified user's browser); it is compared by its hash, and
 * refused once the link expired, even before the retention job deletes the file.
 */
export function reportFileRoutes(files: ReportFileStore, logger: Logger, now: () => number): Hono {
  const r = new Hono();
  r.get("/v1/reports/files/:id", async (c) => {
    onlyQuery(c.req.query(), ["token"]);
    const id = c.req.param("id");
    const token = c.req.query("token") ?? "";
    const missing = () => new SwitchboardError("RESOURCE_NOT_FOUND", "no such report file (the link is wrong or the file was deleted)");
    if (!FILE_ID.test(id) || !TOKEN.test(token)) throw missing();
    const f = await files.reportFile(id);
    if (!f || !timingSafeEqual(Buffer.from(f.tokenHash), Buffer.from(tokenHash(token)))) {
      logger.audit("report_file_download", { file: id, outcome: "RESOURCE_NOT_FOUND" });
      throw missing();
    }
    if (now() >= f.expiresMs) {
      logger.audit("report_file_download", { file: id, tenant: f.tenant, job: f.job, outcome: "expired" });
      throw new SwitchboardError("RESOURCE_NOT_FOUND", `this download link expired at ${new Date(f.expiresMs).toISOString()}; ask for the report again`);
    }
    logger.audit("report_file_download", { file: id, tenant: f.tenant, job: f.job, outcome: "ok", bytes: f.pdf.byteLength });
    return c.body(f.pdf as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "application/pdf",
      "content-disposition": `attachment; filename="${f.fileName}.pdf"`,
      "x-report-pages": String(f.pages),
      // Health data: no shared cache keeps it, and the link is not leaked onward.
      "cache-control": "private, no-store",
      "referrer-policy": "no-referrer",
    });
  });
  return r;
}

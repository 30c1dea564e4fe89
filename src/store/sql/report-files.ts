import type { ReportFile, ReportFileStore } from "../ports.ts";
import type { StoreAvailability } from "./availability.ts";
import type { SqlDriver } from "./driver.ts";

interface Row {
  id: string;
  tenant: string;
  token_hash: string;
  file_name: string;
  pages: number | string;
  pdf: string;
  job: string | null;
  created_ms: number | string;
  expires_ms: number | string;
}

/** Report PDFs in the record store, so that a link works on every node of a cluster. */
export class SqlReportFiles implements ReportFileStore {
  constructor(
    private readonly driver: SqlDriver,
    private readonly availability: StoreAvailability,
  ) {}

  async putReportFile(f: ReportFile): Promise<void> {
    this.availability.assertUp();
    await this.availability.guard(
      this.driver.run(
        "INSERT INTO report_files (id, tenant, token_hash, file_name, pages, bytes, pdf, job, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [f.id, f.tenant, f.tokenHash, f.fileName, f.pages, f.pdf.byteLength, Buffer.from(f.pdf).toString("base64"), f.job, f.createdMs, f.expiresMs],
      ),
    );
  }

  async reportFile(id: string): Promise<ReportFile | undefined> {
    const rows = await this.availability.guard(this.driver.query<Row>("SELECT * FROM report_files WHERE id = ?", [id]));
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: r.id,
      tenant: r.tenant,
      tokenHash: r.token_hash,
      fileName: r.file_name,
      pages: Number(r.pages),
      pdf: new Uint8Array(Buffer.from(r.pdf, "base64")),
      job: r.job,
      createdMs: Number(r.created_ms),
      expiresMs: Number(r.expires_ms),
    };
  }

  async deleteExpiredReportFiles(nowMs: number): Promise<number> {
    this.availability.assertUp();
    return this.availability.guard(this.driver.run("DELETE FROM report_files WHERE expires_ms < ?", [nowMs]));
  }
}

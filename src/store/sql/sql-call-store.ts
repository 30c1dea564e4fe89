import type { CallOutcome, CallParticipant, CallQuality, CallQualitySample, CallRecord, CallState, CallStore } from "../ports.ts";
import type { StoreAvailability } from "./availability.ts";
import type { SqlDriver, SqlStatement, SqlValue } from "./driver.ts";
import type { WriteQueue } from "./write-queue.ts";

interface CallRow {
  id: string;
  caller: string;
  media: string;
  context: string | null;
  state: string;
  outcome: string | null;
  participants: string;
  created_ms: number | string;
  ring_deadline_ms: number | string;
  answered_ms: number | string | null;
  ended_ms: number | string | null;
  ended_by: string | null;
  end_reason: string | null;
  version: number | string;
}

interface QualityRow {
  q_samples: number | string;
  q_rtt_sum: number | string;
  q_rtt_max: number | string;
  q_jitter_sum: number | string;
  q_jitter_max: number | string;
  q_loss_sum: number | string;
  q_loss_max: number | string;
  q_bitrate_sum: number | string;
  q_bitrate_min: number | string | null;
}

const CALL_COLUMNS = "id, caller, media, context, state, outcome, participants, created_ms, ring_deadline_ms, answered_ms, ended_ms, ended_by, end_reason, version";
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));
/** Written once for both databases: SQLite has no GREATEST/LEAST. */
const larger = (col: string) => `${col} = CASE WHEN ? > ${col} THEN ? ELSE ${col} END`;

function toCall(r: CallRow): CallRecord {
  return {
    id: r.id,
    caller: r.caller,
    media: r.media as CallRecord["media"],
    context: r.context,
    state: r.state as CallState,
    outcome: r.outcome as CallOutcome | null,
    participants: JSON.parse(r.participants) as CallParticipant[],
    createdMs: Number(r.created_ms),
    ringDeadlineMs: Number(r.ring_deadline_ms),
    answeredMs: num(r.answered_ms),
    endedMs: num(r.ended_ms),
    endedBy: r.ended_by,
    endReason: r.end_reason,
    version: Number(r.version),
  };
}

/** What the call records borrow from SqlStore: its driver, availability guard and write queue. */
export interface SqlParts {
  driver: SqlDriver;
  availability: StoreAvailability;
  queue: WriteQueue;
}

/**
 * Call records on any SqlDriver. The whole participant list is one JSON
 * column of the call row, so every transition is a single conditional
 * UPDATE on `version` (compare-and-set), the same on SQLite and PostgreSQL.
 */
export class SqlCallStore implements CallStore {
  constructor(private readonly parts: SqlParts) {}

  private read<T>(sql: string, params: SqlValue[]): Promise<T[]> {
    return this.parts.availability.guard(this.parts.driver.query<T>(sql, params));
  }

  async createCall(tenant: string, call: CallRecord): Promise<void> {
    const { availability, driver } = this.parts;
    availability.assertUp();
    const statements: SqlStatement[] = [
      {
        sql: `INSERT INTO calls (tenant, ${CALL_COLUMNS}, next_deadline_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        params: [
          tenant, call.id, call.caller, call.media, call.context, call.state, call.outcome, JSON.stringify(call.participants), call.createdMs,
          call.ringDeadlineMs, call.answeredMs, call.endedMs, call.endedBy, call.endReason, call.version, call.ringDeadlineMs,
        ],
      },
    ];
    for (const p of call.participants) {
      statements.push({ sql: "INSERT INTO call_users (tenant, user_id, call, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", params: [tenant, p.user, call.id, call.createdMs] });
    }
    await availability.guard(driver.transaction(statements));
  }

  async call(tenant: string, id: string): Promise<CallRecord | undefined> {
    const rows = await this.read<CallRow>(`SELECT ${CALL_COLUMNS} FROM calls WHERE tenant = ? AND id = ?`, [tenant, id]);
    return rows.length === 0 ? undefined : toCall(rows[0]!);
  }

  async replaceCall(tenant: string, call: CallRecord, expectedVersion: number, nextDeadlineMs: number | null): Promise<boolean> {
    const { availability, driver } = this.parts;
    availability.assertUp();
    const n = await availability.guard(
      driver.run(
        `UPDATE calls SET state = ?, outcome = ?, participants = ?, answered_ms = ?, ended_ms = ?, ended_by = ?, end_reason = ?, next_deadline_ms = ?, version = ?
         WHERE tenant = ? AND id = ? AND version = ?`,
        [call.state, call.outcome, JSON.stringify(call.participants), call.answeredMs, call.endedMs, call.endedBy, call.endReason, nextDeadlineMs, expectedVersion + 1, tenant, call.id, expectedVersion],
      ),
    );
    return n === 1;
  }

  addCallQuality(tenant: string, id: string, s: CallQualitySample): Promise<void> {
    this.parts.availability.assertUp();
    return this.parts.availability.guard(
      this.parts.queue.push([
        {
          sql: `UPDATE calls SET q_samples = q_samples + 1, q_rtt_sum = q_rtt_sum + ?, ${larger("q_rtt_max")}, q_jitter_sum = q_jitter_sum + ?, ${larger("q_jitter_max")},
                q_loss_sum = q_loss_sum + ?, ${larger("q_loss_max")}, q_bitrate_sum = q_bitrate_sum + ?,
                q_bitrate_min = CASE WHEN q_bitrate_min IS NULL OR ? < q_bitrate_min THEN ? ELSE q_bitrate_min END
                WHERE tenant = ? AND id = ?`,
          params: [s.rttMs, s.rttMs, s.rttMs, s.jitterMs, s.jitterMs, s.jitterMs, s.lossPct, s.lossPct, s.lossPct, s.bitrateKbps, s.bitrateKbps, s.bitrateKbps, tenant, id],
        },
      ]),
    );
  }

  async callQuality(tenant: string, id: string): Promise<CallQuality | undefined> {
    const rows = await this.read<QualityRow>(
      "SELECT q_samples, q_rtt_sum, q_rtt_max, q_jitter_sum, q_jitter_max, q_loss_sum, q_loss_max, q_bitrate_sum, q_bitrate_min FROM calls WHERE tenant = ? AND id = ?",
      [tenant, id],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      samples: Number(r.q_samples),
      rttMsSum: Number(r.q_rtt_sum),
      rttMsMax: Number(r.q_rtt_max),
      jitterMsSum: Number(r.q_jitter_sum),
      jitterMsMax: Number(r.q_jitter_max),
      lossPctSum: Number(r.q_loss_sum),
      lossPctMax: Number(r.q_loss_max),
      bitrateKbpsSum: Number(r.q_bitrate_sum),
      bitrateKbpsMin: num(r.q_bitrate_min),
    };
  }

  async callsOf(tenant: string, user: string, limit: number): Promise<CallRecord[]> {
    const cols = CALL_COLUMNS.split(", ").map((c) => "c." + c).join(", ");
    const rows = await this.read<CallRow>(
      `SELECT ${cols} FROM call_users u JOIN calls c ON c.tenant = u.tenant AND c.id = u.call WHERE u.tenant = ? AND u.user_id = ? ORDER BY u.created_ms DESC, c.id LIMIT ?`,
      [tenant, user, limit],
    );
    return rows.map(toCall);
  }

  async dueCalls(nowMs: number, limit: number): Promise<{ tenant: string; id: string }[]> {
    return this.read<{ tenant: string; id: string }>("SELECT tenant, id FROM calls WHERE next_deadline_ms IS NOT NULL AND next_deadline_ms <= ? ORDER BY next_deadline_ms LIMIT ?", [nowMs, limit]);
  }

  async addCallUsers(tenant: string, id: string, users: readonly string[], createdMs: number): Promise<void> {
    const { availability, driver } = this.parts;
    availability.assertUp();
    const statements = users.map((u) => ({ sql: "INSERT INTO call_users (tenant, user_id, call, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", params: [tenant, u, id, createdMs] }));
    if (statements.length > 0) await availability.guard(driver.transaction(statements));
  }

  async deleteEndedCalls(beforeMs: number, limit: number): Promise<number> {
    const { availability, driver } = this.parts;
    if (!availability.up) return 0;
    const rows = await this.read<{ tenant: string; id: string }>("SELECT tenant, id FROM calls WHERE ended_ms IS NOT NULL AND ended_ms < ? ORDER BY ended_ms LIMIT ?", [beforeMs, limit]);
    if (rows.length === 0) return 0;
    const statements: SqlStatement[] = [];
    for (const r of rows) {
      statements.push({ sql: "DELETE FROM call_users WHERE tenant = ? AND call = ?", params: [r.tenant, r.id] });
      // Still ended before the cut: a row another node changed in between is left for the next run.
      statements.push({ sql: "DELETE FROM calls WHERE tenant = ? AND id = ? AND ended_ms IS NOT NULL AND ended_ms < ?", params: [r.tenant, r.id, beforeMs] });
    }
    await availability.guard(driver.transaction(statements));
    return rows.length;
  }
}

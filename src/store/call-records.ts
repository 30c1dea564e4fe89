/** Call records (features/calls): the lifecycle row every node reads and writes by compare-and-set. */

export type CallState = "ringing" | "live" | "ended";
export type CallOutcome = "answered" | "missed" | "rejected" | "cancelled" | "failed";
export type ParticipantState = "ringing" | "joined" | "away" | "left" | "rejected" | "missed" | "cancelled";

/** One user in a call; `conn` is the cluster-wide id of the device bound to the call (signalling goes there only). */
export interface CallParticipant {
  user: string;
  role: "caller" | "invitee";
  state: ParticipantState;
  conn: string | null;
  joinedMs: number | null;
  leftMs: number | null;
  /** While `away`: when the participant is marked left unless a device rejoins. */
  graceUntilMs: number | null;
  /** An invitee added to a running call rings until then (the call's `ringDeadlineMs` otherwise). */
  ringUntilMs?: number | null;
}

/** Aggregates of the quality samples clients reported (sums for means, extremes). */
export interface CallQuality {
  samples: number;
  rttMsSum: number;
  rttMsMax: number;
  jitterMsSum: number;
  jitterMsMax: number;
  lossPctSum: number;
  lossPctMax: number;
  bitrateKbpsSum: number;
  bitrateKbpsMin: number | null;
}

export interface CallQualitySample {
  rttMs: number;
  jitterMs: number;
  lossPct: number;
  bitrateKbps: number;
}

export interface CallRecord {
  id: string;
  caller: string;
  media: "audio" | "video";
  /** JSON text (e.g. a visit id), or null. */
  context: string | null;
  state: CallState;
  outcome: CallOutcome | null;
  participants: CallParticipant[];
  createdMs: number;
  ringDeadlineMs: number;
  answeredMs: number | null;
  endedMs: number | null;
  endedBy: string | null;
  endReason: string | null;
  /** Bumped by every stored change: `replaceCall` writes only over the version it read. */
  version: number;
}

export interface CallStore {
  /** Stores a new call (version 1) and indexes it under each participant. */
  createCall(tenant: string, call: CallRecord): Promise<void>;
  /** Undefined when the tenant has no such call. */
  call(tenant: string, id: string): Promise<CallRecord | undefined>;
  /**
   * Writes `call` (with version `expectedVersion + 1`) only when the stored
   * version is still `expectedVersion`: one conditional UPDATE, so of several
   * nodes racing on one transition exactly one gets true.
   */
  replaceCall(tenant: string, call: CallRecord, expectedVersion: number, nextDeadlineMs: number | null): Promise<boolean>;
  /** *Batched.* Adds one sample to the call's quality aggregates. */
  addCallQuality(tenant: string, id: string, sample: CallQualitySample): Promise<void>;
  callQuality(tenant: string, id: string): Promise<CallQuality | undefined>;
  /** The user's calls, newest first. */
  callsOf(tenant: string, user: string, limit: number): Promise<CallRecord[]>;
  /** Calls not ended whose next deadline (ring timeout, grace) is at or before `nowMs`. */
  dueCalls(nowMs: number, limit: number): Promise<{ tenant: string; id: string }[]>;
  /** Indexes the call under users added to it after it was created (idempotent). */
  addCallUsers(tenant: string, id: string, users: readonly string[], createdMs: number): Promise<void>;
  /** Deletes at most `limit` calls (with their quality and user index) that ended before `beforeMs`; answers how many. */
  deleteEndedCalls(beforeMs: number, limit: number): Promise<number>;
}

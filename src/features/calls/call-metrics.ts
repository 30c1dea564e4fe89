import { Counter, Histogram } from "../../observability/metrics.ts";
import type { CallOutcome } from "../../store/ports.ts";

const SETUP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60];

/**
 * Call metrics. Lifecycle counters are counted by the node whose transition
 * won (each event once in the cluster: sum them over nodes); the active gauge
 * is the cluster's count as this node's view of calls sees it.
 */
export class CallMetrics {
  readonly active = new Counter("switchboard_calls_active", "Calls ringing or live in the cluster, as this node sees them", "gauge");
  readonly started = new Counter("switchboard_calls_started_total", "Calls invited");
  readonly answered = new Counter("switchboard_calls_answered_total", "Calls accepted by an invitee");
  readonly missed = new Counter("switchboard_calls_missed_total", "Invitees who missed a call (ring timeout, or the call ended while ringing)");
  readonly rejected = new Counter("switchboard_calls_rejected_total", "Invitations rejected");
  readonly failed = new Counter("switchboard_calls_failed_total", "Calls ended because participants' connections were lost past the grace period");
  readonly ended = new Counter("switchboard_calls_ended_total", "Calls ended, by outcome");
  readonly setup = new Histogram("switchboard_call_setup_seconds", "Time from invite to the first accept", SETUP_BUCKETS);
  readonly media = new Histogram("switchboard_call_media_seconds", "Time from accept to a participant's first media (reported by the client)", SETUP_BUCKETS);
  readonly rtt = new Histogram("switchboard_call_rtt_seconds", "Round-trip time reported by call participants", [0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2]);
  readonly jitter = new Histogram("switchboard_call_jitter_seconds", "Jitter reported by call participants", [0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2]);
  readonly loss = new Histogram("switchboard_call_packet_loss_ratio", "Packet loss reported by call participants", [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]);
  readonly bitrate = new Histogram("switchboard_call_bitrate_bits_per_second", "Media bitrate reported by call participants", [32e3, 64e3, 128e3, 256e3, 512e3, 1e6, 2e6, 4e6]);

  constructor(private readonly activeNow: () => number) {}

  outcome(o: CallOutcome): void {
    this.ended.inc({ outcome: o });
    if (o === "failed") this.failed.inc();
  }

  render(): string {
    this.active.set(this.activeNow());
    return [this.active, this.started, this.answered, this.missed, this.rejected, this.failed, this.ended, this.setup, this.media, this.rtt, this.jitter, this.loss, this.bitrate]
      .map((m) => m.render())
      .join("");
  }
}

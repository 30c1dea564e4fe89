import type { CallSignal } from "./call-frames.ts";
import type { Calls } from "./calls.ts";

export interface PeerOptions {
  /**
   * "Perfect negotiation": when both ends offer at once, the polite end
   * rolls back and takes the other's offer, the impolite one ignores it.
   * Give the two ends different values (e.g. the caller impolite).
   */
  polite?: boolean;
  /** Send to this participant only (default: every other participant). */
  to?: string;
}

export interface PeerLink {
  /** Stops relaying; the peer connection itself is left to the caller. */
  close(): void;
}

/**
 * Relays an RTCPeerConnection's negotiation through Switchboard. Incoming
 * signals are applied one at a time, in arrival order, so a candidate never
 * races ahead of the description it belongs to.
 */
export function connectPeer(calls: Calls, pc: RTCPeerConnection, call: string, opts: PeerOptions = {}): PeerLink {
  const polite = opts.polite ?? false;
  let makingOffer = false;
  let ignoreOffer = false;
  let reported = false;
  let chain: Promise<void> = Promise.resolve();

  pc.onnegotiationneeded = async () => {
    try {
      makingOffer = true;
      await pc.setLocalDescription();
      calls.signal(call, "offer", pc.localDescription?.toJSON(), opts.to);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    } finally {
      makingOffer = false;
    }
  };
  pc.onicecandidate = (e) => {
    if (e.candidate) calls.signal(call, "ice", e.candidate.toJSON(), opts.to);
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected" && !reported) {
      reported = true;
      calls.mediaStarted(call).catch(() => {});
    }
  };

  const apply = async (m: CallSignal) => {
    if (m.t === "offer" || m.t === "answer") {
      const collision = m.t === "offer" && (makingOffer || pc.signalingState !== "stable");
      ignoreOffer = !polite && collision;
      if (ignoreOffer) return;
      await pc.setRemoteDescription(m.data);
      if (m.t === "offer") {
        await pc.setLocalDescription();
        calls.signal(call, "answer", pc.localDescription?.toJSON(), m.from);
      }
    } else if (m.t === "ice") {
      // Signals are applied in order, so a candidate with no remote description belongs to an offer this end never
      // applied: one that came before this link existed (the other end offered while this one was still setting up)
      // or one a collision ignored. It cannot be added; negotiation goes on with the next offer.
      if (!pc.remoteDescription) return;
      try {
        await pc.addIceCandidate(m.data);
      } catch (err) {
        if (!ignoreOffer) throw err;
      }
    } else if (m.t === "renegotiate") {
      pc.restartIce();
    }
  };
  const stop = calls.on("signal", (m) => {
    if (m.call !== call) return;
    chain = chain.then(() => apply(m)).catch((err) => queueMicrotask(() => { throw err; }));
  });

  return {
    close() {
      stop();
      pc.onnegotiationneeded = null;
      pc.onicecandidate = null;
      pc.onconnectionstatechange = null;
    },
  };
}

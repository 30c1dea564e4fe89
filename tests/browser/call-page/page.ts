/**
 * The two-party call page the browser test serves (not the /demo page): it
 * connects with the SDK, calls or answers, and sets up a real
 * RTCPeerConnection whose negotiation goes through Switchboard's relay.
 */
import { SwitchboardClient } from "../../../src/client/index.ts";

const q = new URLSearchParams(location.search);
const out = document.getElementById("state")!;
const show = (s: string) => {
  out.dataset.state = s;
  out.textContent = s;
};

async function main(): Promise<void> {
  const client = new SwitchboardClient(q.get("ws")!, { token: q.get("token")! });
  await client.connect();
  const local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  const { iceServers } = await client.calls.iceServers();
  const startPeer = (callId: string, polite: boolean) => {
    const pc = new RTCPeerConnection({ iceServers });
    (window as any).pc = pc;
    pc.addEventListener("connectionstatechange", () => show(`pc:${pc.connectionState}`));
    client.calls.connectPeer(pc, callId, { polite });
    for (const track of local.getTracks()) pc.addTrack(track, local);
  };
  if (q.get("role") === "caller") {
    const call = await client.calls.invite([q.get("callee")!], { media: "video" });
    client.calls.on("call", (e) => {
      if (e.call.id === call.id && e.ev === "accepted") startPeer(call.id, false);
    });
    show("ringing");
  } else {
    client.calls.on("ringing", async (e) => {
      await client.calls.accept(e.call.id);
      startPeer(e.call.id, true);
    });
    show("waiting");
  }
}

main().catch((err) => show(`failed:${(err as Error).message}`));

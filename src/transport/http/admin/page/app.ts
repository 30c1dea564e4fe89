/**
 * The admin dashboard page: reads the cluster's figures from
 * /admin/api/stream (server-sent events over fetch, so the key travels in a
 * header, never in a URL) and renders them; presence and disconnect forms.
 * Every value is written with textContent.
 */
import type { NodeFigures } from "../../../../observability/node-stats.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let key = sessionStorage.getItem("switchboard-admin-key") ?? "";

function text(id: string, value: string | number): void {
  $(id).textContent = String(value);
}

function latency(sec: number | null): string {
  if (sec === null) return "–";
  if (!Number.isFinite(sec)) return "> 2.5 s";
  return sec < 1 ? `≤ ${+(sec * 1000).toFixed(1)} ms` : `≤ ${sec} s`;
}

function cell(row: HTMLTableRowElement, value: string | number, cls?: string, field?: string): void {
  const td = row.insertCell();
  td.textContent = String(value);
  if (cls) td.className = cls;
  if (field) td.dataset.field = field;
}

function render(nodes: NodeFigures[]): void {
  const sum = (f: (n: NodeFigures) => number) => nodes.reduce((s, n) => s + f(n), 0);
  text("total-nodes", nodes.length);
  text("total-connections", sum((n) => n.connections));
  text("total-subscriptions", sum((n) => n.subscriptions));
  text("total-in", sum((n) => n.messagesInPerSec));
  text("total-out", sum((n) => n.messagesOutPerSec));
  text("total-publishes", sum((n) => n.publishesPerSec));
  const body = $<HTMLTableSectionElement>("nodes");
  body.replaceChildren();
  for (const n of nodes) {
    const row = body.insertRow();
    row.dataset.node = n.node;
    cell(row, n.node);
    cell(row, n.draining ? "draining" : n.status, n.status, "status");
    cell(row, n.components.engine ?? "–", n.components.engine, "engine");
    cell(row, n.components.scheduler ?? "–", n.components.scheduler, "jobs");
    cell(row, n.components.eventLoop ?? "–", n.components.eventLoop, "eventLoop");
    cell(row, n.connections, undefined, "connections");
    cell(row, n.subscriptions, undefined, "subscriptions");
    cell(row, n.channels, undefined, "channels");
    cell(row, n.messagesInPerSec, undefined, "in");
    cell(row, n.messagesOutPerSec, undefined, "out");
    cell(row, latency(n.publishP50), undefined, "p50");
    cell(row, latency(n.publishP99), undefined, "p99");
    cell(row, `${n.uptimeSec} s`, undefined, "uptime");
    cell(row, n.version, undefined, "version");
  }
  // Every node sees the same publications of a channel; show the busiest node's rate, not a sum.
  const byChannel = new Map<string, { tenant: string; ch: string; perSec: number }>();
  for (const n of nodes) {
    for (const c of n.topChannels ?? []) {
      const k = `${c.tenant}/${c.ch}`;
      if ((byChannel.get(k)?.perSec ?? -1) < c.perSec) byChannel.set(k, c);
    }
  }
  const channels = $<HTMLTableSectionElement>("channels");
  channels.replaceChildren();
  for (const c of [...byChannel.values()].sort((x, y) => y.perSec - x.perSec).slice(0, 10)) {
    const row = channels.insertRow();
    row.dataset.channel = c.ch;
    cell(row, c.ch, undefined, "ch");
    cell(row, c.tenant || "–", undefined, "tenant");
    cell(row, c.perSec, undefined, "perSec");
  }
}

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${key}`);
  return fetch(path, { ...init, headers });
}

/** Reads the event stream until it ends, then reconnects after a second. */
async function follow(): Promise<void> {
  for (;;) {
    try {
      const res = await api("/admin/api/stream");
      if (res.status === 401) {
        sessionStorage.removeItem("switchboard-admin-key");
        $("login").hidden = false;
        $("dashboard").hidden = true;
        text("error", "The key was refused.");
        return;
      }
      if (!res.ok || !res.body) throw new Error(`stream: HTTP ${res.status}`);
      $("login").hidden = true;
      $("dashboard").hidden = false;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += value;
        let end: number;
        while ((end = buf.indexOf("\n\n")) >= 0) {
          const event = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
          if (!data) continue;
          const msg = JSON.parse(data) as { at: number; nodes: NodeFigures[] };
          render(msg.nodes);
          const live = $("live");
          live.textContent = `live · ${new Date(msg.at).toLocaleTimeString()}`;
          live.dataset.updates = String(Number(live.dataset.updates ?? 0) + 1);
        }
      }
    } catch (err) {
      text("live", `reconnecting (${(err as Error).message})`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  key = $<HTMLInputElement>("key").value.trim();
  sessionStorage.setItem("switchboard-admin-key", key);
  text("error", "");
  void follow();
});

$("presence-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = new URLSearchParams({ ch: $<HTMLInputElement>("presence-ch").value.trim(), tenant: $<HTMLInputElement>("presence-tenant").value.trim() });
  const res = await api(`/admin/api/presence?${q}`);
  const body = (await res.json()) as { members?: { user: string; conns: number }[]; error?: { message: string } };
  const list = $("presence");
  list.replaceChildren();
  for (const m of body.members ?? []) {
    const li = document.createElement("li");
    li.dataset.user = m.user;
    li.textContent = `${m.user} (${m.conns} connection${m.conns === 1 ? "" : "s"})`;
    list.append(li);
  }
  if (body.error) {
    const li = document.createElement("li");
    li.textContent = body.error.message;
    list.append(li);
  } else if ((body.members ?? []).length === 0) {
    const li = document.createElement("li");
    li.textContent = "nobody";
    list.append(li);
  }
});

$("disconnect-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const res = await api("/admin/api/disconnect", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ tenant: $<HTMLInputElement>("disconnect-tenant").value.trim(), user: $<HTMLInputElement>("disconnect-user").value.trim() }),
  });
  const body = (await res.json()) as { closed?: number; error?: { message: string } };
  text("disconnect-result", body.error ? body.error.message : `closed ${body.closed} connection(s)`);
});

if (key) void follow();

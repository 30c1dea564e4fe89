import { SwitchboardClientError } from "../index.ts";

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

export const errText = (err: unknown): string => (err instanceof SwitchboardClientError ? err.code : String(err));

export const clock = (ms: number): string => new Date(ms).toLocaleTimeString();

const log = $("log");
export function note(line: string): void {
  log.textContent += `${clock(Date.now())} ${line}\n`;
  log.scrollTop = log.scrollHeight;
}

/** A count badge: hidden at zero. */
export function setBadge(badge: HTMLElement, n: number, label: string): void {
  badge.textContent = n === 0 ? "" : `${n} ${label}`;
  badge.dataset.count = String(n);
  badge.hidden = n === 0;
}

/** The text of a message's data: `{text}` as written, anything else as JSON. */
export function dataText(data: unknown): string {
  const d = data as { text?: unknown } | null;
  return d && typeof d === "object" && typeof d.text === "string" ? d.text : JSON.stringify(data);
}

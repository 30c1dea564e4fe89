import type { Report } from "../scenarios/common.ts";
export function renderHtml(r: Report): string { return "<pre>" + JSON.stringify(r) + "</pre>"; }

/// <reference lib="webworker" />
import { renderHistoryPdf, type HistoryReportInput } from "./history-pdf.ts";

/** Worker thread: renders reports off the main thread so WebSocket latency does not spike while a PDF is built. */
declare const self: Worker;

self.onmessage = async (e: MessageEvent<{ id: number; input: HistoryReportInput }>) => {
  const { id, input } = e.data;
  try {
    const pdf = await renderHistoryPdf(input);
    self.postMessage({ id, pdf }, [pdf.buffer as ArrayBuffer]);
  } catch (err) {
    self.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
};

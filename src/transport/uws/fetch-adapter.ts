import type { HttpRequest, HttpResponse } from "@trufflesuite/uws-js-unofficial";
import { STATUS_CODES } from "node:http";
import type { HeaderReader } from "../port.ts";

const decoder = new TextDecoder();

/**
 * One HTTP exchange on uWebSockets.js: what was read from uWS's request
 * (valid only inside its handler, so everything is copied at once) and the
 * state of its response. uWS's response object must not be touched once the
 * client went away (`aborted`) or after it was ended (`done`).
 */
export interface Exchange {
  res: HttpResponse;
  peer: string;
  aborted: boolean;
  done: boolean;
  /** The Request's signal: plain HTTP requests only (an upgrade's Request has none: nothing streams to it). */
  abort: AbortController | undefined;
  /** Resolves a pending writable() wait when the client goes away. */
  wake: (() => void) | undefined;
}

export interface RequestHead {
  method: string;
  url: string;
  /** Name/value pairs as uWS read them (names lower-case); `Request` takes them as they are. */
  headers: [string, string][];
}

/** HTTP whitespace around a value, which undici's Headers strips too. */
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

/**
 * `Headers.get` over the pairs uWS read, without building a Headers: the
 * name in any case, each value trimmed of HTTP whitespace, repeats joined
 * with ", " ("; " for cookie), null when absent (as undici answers).
 */
export class HeaderList implements HeaderReader {
  constructor(private readonly pairs: readonly [string, string][]) {}

  get(name: string): string | null {
    const n = name.toLowerCase();
    let out: string | null = null;
    for (const h of this.pairs) {
      if (h[0] !== n) continue;
      const v = h[1].replace(EDGE_WHITESPACE, "");
      out = out === null ? v : out + (n === "cookie" ? "; " : ", ") + v;
    }
    return out;
  }
}

/** The first value of header `name` (lower-case), or undefined. */
export function header(head: RequestHead, name: string): string | undefined {
  for (const h of head.headers) if (h[0] === name) return h[1];
  return undefined;
}

/** Copies method, URL and headers out of uWS's request, and watches for the client going away. */
export function readHead(res: HttpResponse, req: HttpRequest, origin: string, withSignal: boolean): { head: RequestHead; ex: Exchange } {
  const headers: [string, string][] = [];
  let host: string | undefined;
  req.forEach((k, v) => {
    headers.push([k, v]);
    if (k === "host") host ??= v;
  });
  const q = req.getQuery();
  const url = (host ? origin.slice(0, origin.indexOf("://") + 3) + host : origin) + req.getUrl() + (q ? "?" + q : "");
  const ex: Exchange = { res, peer: decoder.decode(res.getRemoteAddressAsText()), aborted: false, done: false, abort: withSignal ? new AbortController() : undefined, wake: undefined };
  res.onAborted(() => {
    ex.aborted = true;
    ex.abort?.abort();
    ex.wake?.();
  });
  return { head: { method: req.getMethod().toUpperCase(), url, headers }, ex };
}

/**
 * Reads the request body (bounded by `max` bytes: past it `onTooLarge` runs
 * once and the rest is ignored), then calls `done` with it. uWS hands chunks
 * that are only valid during the callback, so each one is copied.
 */
export function readBody(ex: Exchange, max: number, done: (body: Uint8Array) => void, onTooLarge: () => void): void {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let refused = false;
  ex.res.onData((chunk, last) => {
    if (refused) return;
    size += chunk.byteLength;
    if (size > max) {
      refused = true;
      return onTooLarge();
    }
    if (chunk.byteLength > 0) chunks.push(new Uint8Array(chunk.slice(0)));
    if (!last) return;
    if (chunks.length === 1) return done(chunks[0]!);
    const body = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      body.set(c, at);
      at += c.byteLength;
    }
    done(body);
  });
}

/** Headers uWS writes itself (it frames the body: content-length or chunked). */
const FRAMING = new Set(["content-length", "transfer-encoding", "connection"]);

function writeHead(res: HttpResponse, r: Response): void {
  res.writeStatus(`${r.status} ${r.statusText || STATUS_CODES[r.status] || ""}`);
  r.headers.forEach((v, k) => {
    if (!FRAMING.has(k) && k !== "set-cookie") res.writeHeader(k, v);
  });
  for (const c of r.headers.getSetCookie()) res.writeHeader("set-cookie", c);
}

/** Resolves once uWS can take more of the response (or the client went away). */
function writable(ex: Exchange): Promise<void> {
  return new Promise((resolve) => {
    if (ex.aborted) return resolve();
    // One waiter at a time (the writer awaits each): no listener piles up over a long stream.
    ex.wake = resolve;
    ex.res.onWritable(() => {
      ex.wake = undefined;
      resolve();
      return true;
    });
  });
}

/**
 * Writes a fetch Response to uWS. A body that is complete after its first
 * chunk (every JSON answer) goes out in one write with a Content-Length; a
 * longer stream (a PDF, a long-poll) goes out chunk by chunk with chunked
 * encoding, each chunk waiting until uWS has sent the previous one.
 */
export async function writeResponse(ex: Exchange, r: Response, head: boolean): Promise<void> {
  if (ex.aborted || ex.done) return;
  const { res } = ex;
  const noBody = head || r.status === 204 || r.status === 304 || r.body === null;
  if (noBody) {
    ex.done = true;
    void r.body?.cancel().catch(() => {});
    res.cork(() => {
      writeHead(res, r);
      res.endWithoutBody();
    });
    return;
  }
  const reader = r.body!.getReader();
  const first = await reader.read();
  if (ex.aborted) return void reader.cancel().catch(() => {});
  let second = first.done ? first : await reader.read();
  if (ex.aborted) return void reader.cancel().catch(() => {});
  if (second.done) {
    ex.done = true;
    res.cork(() => {
      writeHead(res, r);
      res.end(first.value ?? "");
    });
    return;
  }
  res.cork(() => {
    writeHead(res, r);
    res.write(first.value!);
  });
  for (;;) {
    let ok = true;
    res.cork(() => {
      ok = res.write(second.value!);
    });
    if (!ok) await writable(ex);
    if (ex.aborted) return void reader.cancel().catch(() => {});
    second = await reader.read();
    if (ex.aborted) return void reader.cancel().catch(() => {});
    if (second.done) break;
  }
  ex.done = true;
  res.cork(() => res.end());
}

/** A bare answer written at once (errors the adapter itself gives). */
export function writePlain(ex: Exchange, status: number, body: string, close = false): void {
  if (ex.aborted || ex.done) return;
  ex.done = true;
  ex.res.cork(() => {
    ex.res.writeStatus(`${status} ${STATUS_CODES[status] ?? ""}`).writeHeader("content-type", "application/json").end(body, close);
  });
}

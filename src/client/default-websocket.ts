/**
 * Where the client gets its WebSocket constructor when `options.WebSocket` is
 * not given: the runtime's global one (browsers, Bun, Deno, Node ≥ 22), else
 * the one the Node entry loaded from the optional `ws` peer (Node 20).
 */
let fallback: typeof WebSocket | undefined;

export function useWebSocket(ctor: typeof WebSocket): void {
  fallback = ctor;
}

export function defaultWebSocket(): typeof WebSocket {
  const ctor = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket ?? fallback;
  if (!ctor) throw new TypeError("no WebSocket in this runtime: install the `ws` package (Node 20) or pass options.WebSocket");
  return ctor;
}

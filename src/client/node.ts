/**
 * The package's entry for Node (and runtimes that resolve the "node"
 * condition: Bun, Deno). Node 20 has no global WebSocket; there the optional
 * `ws` peer is used when it is installed.
 */
import { useWebSocket } from "./default-websocket.ts";

if (!(globalThis as { WebSocket?: unknown }).WebSocket) {
  // A variable specifier: bundlers leave the optional peer alone, Node resolves it from the app.
  const peer = "ws";
  try {
    const ws = (await import(peer)) as { WebSocket: typeof WebSocket };
    useWebSocket(ws.WebSocket);
  } catch {
    // Not installed: the constructor says so, unless options.WebSocket is given.
  }
}

export * from "./index.ts";

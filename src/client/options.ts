export interface ClientOptions {
  /** A fixed JWT. Give `getToken` instead to let the client renew it. */
  token?: string;
  /** Returns a fresh JWT; called for the first connection, on `expiring`, and after close 4001/4003. */
  getToken?: () => string | Promise<string>;
  /** Floor of the reconnect delay (default 500). */
  minReconnectDelayMs?: number;
  /** Cap of the reconnect delay (default 20 000). */
  maxReconnectDelayMs?: number;
  /** How long a request waits for its answer before rejecting with TIMEOUT (default 10 000). */
  requestTimeoutMs?: number;
  /** How long opening the socket plus authenticating may take before the attempt is abandoned (default 10 000). */
  connectTimeoutMs?: number;
  /** WebSocket constructor for runtimes without a global one (e.g. `ws` on Node 20). */
  WebSocket?: typeof WebSocket;
}

/** What a namespace socket needs from the Engine.IO connection it is multiplexed on. */
export interface SocketHost {
  /** Engine.IO session id. */
  readonly sid: string;
  readonly remoteAddress: string;
  /** Token from the handshake request (Authorization header or query), used when CONNECT carries none. */
  readonly token: string | undefined;
  /** Sends one Engine.IO packet; Bun semantics: >0 sent, -1 queued under backpressure, 0 dropped. */
  send(packet: string): number;
  bufferedAmount(): number;
  cork(cb: () => unknown): unknown;
  /** Subscribes the WebSocket to a native topic; false while the connection is on long-polling. */
  subscribeWs(topic: string): boolean;
  unsubscribeWs(topic: string): void;
  /** Publishes to a native topic's subscribers except this WebSocket (Bun's ws.publish). */
  publishWs(topic: string, packet: string): void;
  /** Ends the whole Engine.IO connection: the client reconnects on its own. */
  closeTransport(reason: string): void;
  /** The namespace socket is gone (its host forgets it). */
  socketEnded(nsp: string): void;
}

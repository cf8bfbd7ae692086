/**
 * A minimal graphql-transport-ws client over `ws` for benches that hold thousands of sockets in one process.
 * Hand-written rather than graphql-ws's `createClient` on purpose: the benchmark client shares two cores with the
 * gateways it measures, so each socket should cost one `ws` object and a map entry, not a client with retry,
 * lazy-connect and keep-alive machinery. Only the subset a subscriber needs is spoken: connection_init/ack,
 * subscribe, next/error/complete, and pong for the server's pings.
 */
import WebSocket from 'ws';

export interface ExecutionPayload {
  data?: Record<string, unknown> | null;
  errors?: unknown[];
}

export interface SubscriptionHandlers {
  next(payload: ExecutionPayload): void;
  /** Operation errors, or the socket closing before the operation completed. */
  error(reason: unknown): void;
  complete(): void;
}

export interface WsConnection {
  /** Sends `subscribe`; returns the operation id. */
  subscribe(query: string, variables: Record<string, unknown>, handlers: SubscriptionHandlers): string;
  close(): Promise<void>;
}

interface ServerMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

/**
 * Opens a socket to `url` (ws://…/graphql) and resolves once the server acknowledged connection_init (sent with
 * `initPayload`, e.g. `{ authorization: 'Bearer …' }` for a gateway with auth).
 */
export function connectWs(url: string, initPayload: Record<string, unknown> = {}): Promise<WsConnection> {
  const socket = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
  const operations = new Map<string, SubscriptionHandlers>();
  socket.on('close', (code, reason) => {
    for (const handlers of operations.values()) handlers.error(new Error(`socket closed: ${code} ${reason.toString()}`));
    operations.clear();
  });
  return new Promise<WsConnection>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: initPayload })));
    socket.on('message', (raw) => {
      const message = JSON.parse(raw.toString()) as ServerMessage;
      if (message.type === 'connection_ack') {
        socket.off('error', reject);
        // From here a socket error is followed by 'close', which fails the open operations.
        socket.on('error', () => {});
        resolve(connectionOver(socket, operations));
        return;
      }
      if (message.type === 'ping') return socket.send(JSON.stringify({ type: 'pong' }));
      dispatch(operations, message);
    });
    socket.once('close', (code) => reject(new Error(`socket closed before connection_ack: ${code}`)));
  });
}

function connectionOver(socket: WebSocket, operations: Map<string, SubscriptionHandlers>): WsConnection {
  let nextId = 0;
  const closed = new Promise<void>((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) resolve();
    else socket.once('close', () => resolve());
  });
  return {
    subscribe(query, variables, handlers) {
      const id = String(++nextId);
      operations.set(id, handlers);
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
      return id;
    },
    async close() {
      if (socket.readyState !== WebSocket.CLOSED) socket.close(1000);
      await closed;
    },
  };
}

function dispatch(operations: Map<string, SubscriptionHandlers>, message: ServerMessage): void {
  const handlers = message.id === undefined ? undefined : operations.get(message.id);
  if (!handlers) return;
  if (message.type === 'next') return handlers.next(message.payload as ExecutionPayload);
  operations.delete(message.id!);
  if (message.type === 'complete') handlers.complete();
  else handlers.error(message.payload);
}

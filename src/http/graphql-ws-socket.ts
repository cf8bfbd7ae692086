/**
 * graphql-ws' server (`makeServer`) on `ws` sockets: what `graphql-ws/use/ws` does (subprotocol check, keep-alive
 * pings, 4500 on an internal error, 1001 on dispose), with one difference in how a message is written.
 *
 * Hand-written because the library's glue falls short for fan-out (issue 12, measured with `npm run bench:scale-out
 * -- --idle-only --cpu-prof`): its `send` resolves only in the write's callback, and graphql-ws awaits each send before
 * pulling the next result, so a subscription's last `next` and its `complete` were two separate writes, two
 * `writev` system calls per subscriber. Over loopback a `writev` costs ~14 µs, and it was 38% of the gateway's CPU
 * while 10,000 subscribers of one task got its completion. Here:
 * - a send writes at once and resolves at once, unless the socket's buffer is over its high-water mark: then it
 *   resolves on `drain` (or close), so a slow reader still holds its producer back, as before;
 * - the socket is corked from its first send until the current batch of promise jobs has run (`process.nextTick`
 *   from a send runs after the microtask queue drains), so what an event produces for one socket (`next` and
 *   `complete`) leaves in one write. Nothing waits on a timer: the flush happens before the event loop moves on.
 *
 * graphql-ws 6 exposes `makeServer` for exactly this (its `use/*` adapters are each this thin); the message protocol,
 * its checks and its close codes stay the library's.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { CloseCode, DEPRECATED_GRAPHQL_WS_PROTOCOL, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';

/** What `ctx.extra` holds for each connection (as with `graphql-ws/use/ws`). */
export interface WsExtra {
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
}

/** The keep-alive ping interval `graphql-ws/use/ws` uses; a pong missing for as long terminates the socket. */
const KEEP_ALIVE_MS = 12_000;
/** Close reasons are limited to 123 bytes by the websocket protocol. */
const limitReason = (reason: string, whenTooLong: string) => (reason.length < 124 ? reason : whenTooLong);

/** What the 4500 close carries: the error's message outside production, as graphql-ws does. */
function internalErrorReason(error: unknown, isProd: boolean): string {
  return isProd ? 'Internal server error' : limitReason(error instanceof Error ? error.message : String(error), 'Internal server error');
}

export interface GraphQLWsServerOptions {
  /** Ping interval, ms (0: none); default graphql-ws' 12 s. */
  keepAlive?: number;
  /** Where internal errors go (graphql-ws' own adapter writes them to the console). */
  logger?: Logger;
}

/** Writes to one socket: at once, corked until the current microtasks have run, so one event is one write. */
export function socketWriter(socket: WebSocket, raw: Socket): (data: string) => Promise<void> | undefined {
  let corked = false;
  const uncork = () => {
    corked = false;
    raw.uncork();
  };
  return (data) => {
    if (socket.readyState !== socket.OPEN) return undefined;
    if (!corked) {
      corked = true;
      raw.cork();
      process.nextTick(uncork);
    }
    // An error writing ends the socket ('error', then 'close'): the close handler cleans up, nothing to do here.
    socket.send(data);
    if (!raw.writableNeedDrain) return undefined;
    return new Promise<void>((resolve) => {
      const done = () => {
        raw.off('drain', done);
        raw.off('close', done);
        resolve();
      };
      raw.once('drain', done);
      raw.once('close', done);
    });
  };
}

/** `graphql-ws/use/ws`'s `useServer`, writing as described above. Returns what disposes it. */
export function useGraphQLWsServer<P extends Record<string, unknown>>(
  options: ServerOptions<P, WsExtra>,
  wsServer: WebSocketServer,
  { keepAlive = KEEP_ALIVE_MS, logger }: GraphQLWsServerOptions = {},
): { dispose(): Promise<void> } {
  const isProd = process.env.NODE_ENV === 'production';
  const report = (message: string, error: unknown) => {
    if (logger) logger.error(message, { error });
    else console.error(message, error);
  };
  const server = makeServer(options);
  wsServer.options.handleProtocols = handleProtocols;
  wsServer.once('error', (error) => {
    report('graphql-ws: error on the WebSocket server', error);
    for (const client of wsServer.clients) client.close(CloseCode.InternalServerError, internalErrorReason(error, isProd));
  });

  wsServer.on('connection', (socket, request) => {
    socket.once('error', (error) => {
      report('graphql-ws: error on a WebSocket', error);
      socket.close(CloseCode.InternalServerError, internalErrorReason(error, isProd));
    });

    let pongWait: NodeJS.Timeout | null = null;
    const pingInterval =
      keepAlive > 0 && Number.isFinite(keepAlive)
        ? setInterval(() => {
            if (socket.readyState !== socket.OPEN) return;
            pongWait = setTimeout(() => socket.terminate(), keepAlive);
            socket.once('pong', () => {
              if (pongWait) clearTimeout(pongWait);
              pongWait = null;
            });
            socket.ping();
          }, keepAlive)
        : null;

    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: socketWriter(socket, request.socket) as (data: string) => Promise<void>,
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (data: Buffer) => {
            try {
              await handle(String(data));
            } catch (error) {
              report('graphql-ws: error handling a message', error);
              socket.close(CloseCode.InternalServerError, internalErrorReason(error, isProd));
            }
          }),
      },
      { socket, request },
    );

    socket.once('close', (code, reason) => {
      if (pongWait) clearTimeout(pongWait);
      if (pingInterval) clearInterval(pingInterval);
      if (code === CloseCode.SubprotocolNotAcceptable && socket.protocol === DEPRECATED_GRAPHQL_WS_PROTOCOL) {
        logger?.debug('graphql-ws: refused a client speaking subscriptions-transport-ws (graphql-ws subprotocol)');
      }
      void closed(code, String(reason));
    });
  });

  return {
    dispose: async () => {
      for (const client of wsServer.clients) client.close(1001, 'Going away');
      wsServer.removeAllListeners();
      await new Promise<void>((resolve, reject) => wsServer.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/**
 * Connection draining for a graceful shutdown of one node:http server.
 *
 * Hand-written rather than `stoppable` or `http-terminator`: neither knows that an upgraded (websocket) socket is
 * not an idle keep-alive one (stoppable ends it with no close frame), http-terminator polls every 10 ms for the
 * sockets to go away, and neither sends `Connection: close` on a request that arrives on a kept-alive socket while
 * draining. Node itself already tracks which HTTP connections are idle (`closeIdleConnections` skips a socket whose
 * request has begun or whose response is unfinished), so this only adds `Connection: close`, the sockets left
 * kept-alive by responses that finish during the drain, and the deadline.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Plugin } from 'graphql-yoga';

export interface ConnectionDrain {
  readonly draining: boolean;
  /** Open sockets (HTTP and upgraded) and unfinished responses, for the shutdown log. */
  readonly connections: number;
  readonly inFlight: number;
  /**
   * Stops accepting connections, closes idle keep-alive sockets at once, lets in-flight responses finish (each
   * closes its socket after it), and destroys every socket still open after `timeoutMs`. Resolves when the server
   * has closed; `forced` counts the sockets destroyed at the deadline. Idempotent: later calls share the first.
   */
  drain(timeoutMs: number): Promise<{ forced: number }>;
}

export function trackConnections(server: Server): ConnectionDrain {
  const sockets = new Set<Socket>();
  const responses = new Set<ServerResponse>();
  let drained: Promise<{ forced: number }> | undefined;

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Registered before the request handler, so a request that arrives while draining is answered with
  // `Connection: close` (it is still served: it may be a webhook carrying a paid result).
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (drained) res.setHeader('connection', 'close');
    responses.add(res);
    res.once('close', () => {
      responses.delete(res);
      // A response whose headers went out before the drain began left its socket kept-alive: close it now.
      if (drained) server.closeIdleConnections();
    });
  });

  const run = async (timeoutMs: number) => {
    for (const res of responses) if (!res.headersSent) res.setHeader('connection', 'close');
    // Since Node 19, close() also closes the idle keep-alive sockets; the callback waits for all others.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    let forced = 0;
    const deadline = setTimeout(() => {
      forced = sockets.size;
      for (const socket of sockets) socket.destroy();
    }, timeoutMs);
    await closed;
    clearTimeout(deadline);
    return { forced };
  };

  return {
    get draining() {
      return drained !== undefined;
    },
    get connections() {
      return sockets.size;
    },
    get inFlight() {
      return responses.size;
    },
    drain(timeoutMs) {
      drained ??= run(timeoutMs);
      return drained;
    },
  };
}

/**
 * Yoga plugin: once `signal` aborts, every SSE response ends cleanly WITHOUT yoga's `event: complete`, and its
 * subscription is cancelled. A `complete` would tell clients the operation is over; a plain end of stream makes
 * EventSource and graphql-sse clients reconnect, which the load balancer sends to another instance.
 */
export function useEndEventStreamsOn(signal: AbortSignal): Plugin {
  return {
    onResponse({ response, setResponse, fetchAPI }) {
      if (!response.body || !response.headers.get('content-type')?.startsWith('text/event-stream')) return;
      const body = endOnAbort(response.body, signal, fetchAPI.ReadableStream);
      setResponse(new fetchAPI.Response(body, { status: response.status, statusText: response.statusText, headers: response.headers }));
    },
  };
}

function endOnAbort(inner: ReadableStream<Uint8Array>, signal: AbortSignal, Stream: typeof ReadableStream): ReadableStream<Uint8Array> {
  const reader = inner.getReader();
  let ended = false;
  const finish = () => {
    ended = true;
    signal.removeEventListener('abort', onAbort);
  };
  let onAbort = () => {};
  return new Stream<Uint8Array>({
    start(controller) {
      onAbort = () => {
        if (ended) return;
        finish();
        controller.close();
        // Cancelling the inner stream runs yoga's cleanup: the subscription iterator returns, listeners go.
        reader.cancel().catch(() => {});
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    },
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (ended) return;
        if (chunk.done) {
          finish();
          controller.close();
        } else controller.enqueue(chunk.value);
      } catch (error) {
        finish();
        throw error;
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
}

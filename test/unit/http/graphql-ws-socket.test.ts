/**
 * graphql-ws' server on `ws` through our adapter (src/http/graphql-ws-socket.ts), over a real HTTP server on port 0
 * and real `ws` clients: one write per event per socket, backpressure from a slow reader, keep-alive pings.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { socketWriter, useGraphQLWsServer } from '../../../src/http/graphql-ws-socket.js';
import type { Logger } from '../../../src/logger.js';
import { createDeferred, createEventQueue } from '../../helpers/deferred.js';

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString, resolve: () => 'ok' } } }),
  subscription: new GraphQLObjectType({
    name: 'Subscription',
    fields: {
      letters: {
        type: GraphQLString,
        subscribe: async function* () {
          yield { letters: 'a' };
          yield { letters: 'b' };
        },
      },
    },
  }),
});

interface Harness {
  url: string;
  /** The server side of each accepted connection: its socket, and the bytes of each flush to the kernel. */
  connections: EventQueueLike<{ raw: Socket; socket: WebSocket; flushes: string[] }>;
}
type EventQueueLike<T> = ReturnType<typeof createEventQueue<T>>;

const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const dispose of disposers.splice(0).reverse()) await dispose();
});

/** One flush of a Writable is one `_write` or `_writev` call: one system call for a net.Socket. */
function recordFlushes(raw: Socket): string[] {
  const flushes: string[] = [];
  const target = raw as unknown as {
    _write(chunk: Buffer, encoding: string, cb: () => void): void;
    _writev(chunks: { chunk: Buffer }[], cb: () => void): void;
  };
  const write = target._write.bind(raw);
  const writev = target._writev.bind(raw);
  target._write = (chunk, encoding, cb) => {
    flushes.push(Buffer.from(chunk).toString('latin1'));
    write(chunk, encoding, cb);
  };
  target._writev = (chunks, cb) => {
    flushes.push(chunks.map((c) => Buffer.from(c.chunk).toString('latin1')).join(''));
    writev(chunks, cb);
  };
  return flushes;
}

async function start(keepAlive?: number, extra: { options?: Partial<ServerOptions>; logger?: Logger } = {}): Promise<Harness> {
  const server: Server = createServer();
  const wsServer = new WebSocketServer({ server, path: '/graphql' });
  const connections = createEventQueue<{ raw: Socket; socket: WebSocket; flushes: string[] }>();
  // Registered before the adapter's listener: the flush recorder sees every write from the first one.
  wsServer.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    connections.push({ raw: request.socket, socket, flushes: recordFlushes(request.socket) });
  });
  const disposable = useGraphQLWsServer({ schema, ...extra.options }, wsServer, {
    ...(keepAlive === undefined ? {} : { keepAlive }),
    ...(extra.logger ? { logger: extra.logger } : {}),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  disposers.push(async () => {
    await disposable.dispose();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`, connections };
}

/** A raw graphql-transport-ws client: messages as they arrive. */
async function connect(url: string, options: WebSocket.ClientOptions = {}) {
  const socket = new WebSocket(url, 'graphql-transport-ws', options);
  const messages = createEventQueue<{ id?: string; type: string; payload?: unknown }>();
  const closed = createDeferred<number>();
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  socket.on('close', (code) => closed.resolve(code));
  disposers.push(async () => {
    if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
    await closed.promise;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'connection_init' }));
  expect((await messages.next()).type).toBe('connection_ack');
  return { socket, messages, closed: closed.promise };
}

describe('graphql-ws adapter', () => {
  it("writes a subscription's last `next` and its `complete` in one flush, and every message in order", async () => {
    const h = await start();
    const client = await connect(h.url);
    const server = await h.connections.next();
    const before = server.flushes.length;
    client.socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { letters }' } }));
    const received = [await client.messages.next(), await client.messages.next(), await client.messages.next()];
    expect(received).toEqual([
      { id: '1', type: 'next', payload: { data: { letters: 'a' } } },
      { id: '1', type: 'next', payload: { data: { letters: 'b' } } },
      { id: '1', type: 'complete' },
    ]);
    const flushes = server.flushes.slice(before);
    const last = flushes.find((bytes) => bytes.includes('"letters":"b"'));
    expect(last).toContain('"type":"complete"');
    // The generator's two results come in one turn too: the whole operation left in one write.
    expect(flushes).toHaveLength(1);
  });

  it('holds the producer back while the socket buffer is over its high-water mark, until it drains', async () => {
    const h = await start();
    const client = await connect(h.url);
    const server = await h.connections.next();
    const write = socketWriter(server.socket, server.raw);
    expect(write('{"type":"pong"}')).toBeUndefined();
    // Over the high-water mark (the socket is corked for this turn, so all of it is buffered): wait for `drain`.
    const waiting = write(JSON.stringify({ type: 'pong', payload: { fill: 'x'.repeat(server.raw.writableHighWaterMark * 4) } }));
    expect(waiting).toBeInstanceOf(Promise);
    let drained = false;
    void waiting!.then(() => (drained = true));
    await Promise.resolve();
    expect(drained).toBe(false);
    await waiting;
    expect(server.raw.writableLength).toBe(0);
    expect((await client.messages.next()).type).toBe('pong');
    expect((await client.messages.next()).payload).toMatchObject({ fill: expect.any(String) });
  });

  it('resolves a pending write when the socket closes instead of draining', async () => {
    const h = await start();
    const client = await connect(h.url);
    client.socket.pause();
    const server = await h.connections.next();
    const write = socketWriter(server.socket, server.raw);
    let waiting: Promise<void> | undefined;
    // The reader is paused, so once the kernel buffers are full nothing drains (corked, the first write already waits).
    for (let i = 0; i < 64 && !waiting; i++) waiting = write(JSON.stringify({ type: 'pong', payload: 'y'.repeat(1 << 20) }));
    expect(waiting).toBeInstanceOf(Promise);
    server.raw.destroy();
    await waiting;
    expect(await client.closed).toBe(1006);
  });

  it('pings every keep-alive interval and terminates a socket whose pong does not come within the next one', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    const h = await start(1_000);
    const answering = await connect(h.url);
    const silent = await connect(h.url, { autoPong: false });
    const [first, second] = [await h.connections.next(), await h.connections.next()];
    const pinged = createDeferred();
    silent.socket.once('ping', () => pinged.resolve());
    const ponged = createDeferred();
    first.socket.once('pong', () => ponged.resolve());
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all([pinged.promise, ponged.promise]);
    expect(second.socket.readyState).toBe(WebSocket.OPEN);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await silent.closed).toBe(1006);
    expect(answering.socket.readyState).toBe(WebSocket.OPEN);
  });

  it("closes a socket with 4500 and the error's message when handling a message throws, and logs it", async () => {
    const logged: { msg: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (msg, fields) => logged.push({ msg, ...(fields ? { fields } : {}) }) };
    const h = await start(undefined, {
      logger,
      options: {
        onConnect: () => {
          throw new Error('connect hook broke');
        },
      },
    });
    const socket = new WebSocket(h.url, 'graphql-transport-ws');
    const closed = createDeferred<{ code: number; reason: string }>();
    socket.on('close', (code, reason) => closed.resolve({ code, reason: String(reason) }));
    disposers.push(async () => {
      socket.terminate();
      await closed.promise;
    });
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    expect(await closed.promise).toEqual({ code: 4500, reason: 'connect hook broke' });
    expect(logged).toEqual([{ msg: 'graphql-ws: error handling a message', fields: { error: expect.objectContaining({ message: 'connect hook broke' }) } }]);
  });
});

/**
 * Graceful shutdown of the real entry point (`node --import tsx src/main.ts`), driven by real signals. Requests
 * the test wants served DURING the drain are sent as "held" requests: their head is written before the signal
 * except for its final blank line, so the server has begun reading them (a drain keeps such a socket, unlike an
 * idle keep-alive one) while the listening socket already refuses new connections. No sleeps: the test awaits
 * log lines, socket events, deferreds and the child's exit.
 */
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { successCallback } from '../fixtures/upstream/envelopes.js';
import { createDeferred } from '../helpers/deferred.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import type { GraphQLResponse } from '../helpers/gateway.js';
import { freePort, graphiqlUrl, killStartedMains, logMatching, processesInGroup, startMain, type MainProcess } from '../helpers/main-process.js';
import { postGraphQLMultipart } from '../helpers/multipart.js';
import { ffmpegPath, generateVideo } from '../helpers/video.js';

const operation = (name: string) => readFile(new URL(`../operations/${name}.graphql`, import.meta.url), 'utf8');
const API_KEY = 'sk-mavi-shutdown-key-123456';
const SECRET = 'shutdown-webhook-secret-0123456789';

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  await killStartedMains();
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** main.ts in front of a fake upstream (remote mode), plus a way to hold its next extract reply. */
async function startRemote(extra: Record<string, string> = {}) {
  const fake = await startFakeUpstream({ rps: 0, apiKey: API_KEY });
  cleanups.push(() => fake.close());
  const dir = await tempDir('shutdown-');
  const main = startMain({
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    MAVI_API_KEY: API_KEY,
    MAVI_WEBHOOK_SECRET: SECRET,
    MAVI_BASE_URL: fake.url,
    MEDIA_SIGNING_SECRET: 'media-signing-secret-0123456789abcdef',
    UPSTREAM_RPS: '50',
    DATA_DIR: path.join(dir, 'data'),
    MEDIA_CACHE_DIR: path.join(dir, 'media-cache'),
    LOG_LEVEL: 'info',
    ...extra,
  });
  const endpoint = (await graphiqlUrl(main)).replace('localhost', '127.0.0.1');
  return { fake, main, endpoint, base: endpoint.replace(/\/graphql$/, '') };
}

async function graphql<T = Record<string, any>>(endpoint: string, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as GraphQLResponse<T> };
}

/** Starts an extraction whose upstream reply the test releases: resolves once the call is in flight upstream. */
async function heldExtraction(fake: FakeUpstream, endpoint: string) {
  const reached = createDeferred();
  const release = createDeferred();
  fake.onExtract = () => {
    reached.resolve();
    return release.promise;
  };
  cleanups.push(() => release.resolve());
  const response = graphql(endpoint, await operation('start-frame-extraction'), { assetId: fake.addAsset() });
  response.catch(() => {});
  await reached.promise;
  return { response, release: () => release.resolve() };
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A connection of its own carrying one request whose head lacks its last blank line until `finish()`. */
async function heldRequest(base: string, method: string, pathname: string, body?: string) {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  let raw = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (raw += chunk));
  const closed = once(socket, 'close');
  const head = [`${method} ${pathname} HTTP/1.1`, `host: ${hostname}:${port}`];
  if (body !== undefined) head.push('content-type: application/json', `content-length: ${Buffer.byteLength(body)}`);
  socket.write(`${head.join('\r\n')}\r\n`);
  cleanups.push(() => socket.destroy());
  return {
    /** Sends the rest; resolves with the response once the server has closed the connection. */
    async finish(): Promise<RawResponse> {
      socket.write(`\r\n${body ?? ''}`);
      await closed;
      return parseResponse(raw);
    },
  };
}

function parseResponse(raw: string): RawResponse {
  const split = raw.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = raw.slice(0, split).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine!.split(' ')[1]), headers, body: raw.slice(split + 4) };
}

/** A kept-alive connection that has served one full request and is now idle. */
async function idleKeepAlive(base: string): Promise<Socket> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  cleanups.push(() => socket.destroy());
  await once(socket, 'connect');
  const answered = createDeferred();
  socket.on('data', (chunk: Buffer) => chunk.toString().includes('"status":"ok"') && answered.resolve());
  socket.write(`GET /healthz HTTP/1.1\r\nhost: ${hostname}:${port}\r\n\r\n`);
  await answered.promise;
  return socket;
}

/** An SSE subscription read to its end: `first` resolves with the first `next` payload, `ended` with the whole text. */
async function openSse(endpoint: string, query: string, variables: Record<string, unknown>) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query, variables }),
  });
  expect([res.status, res.headers.get('content-type')]).toEqual([200, 'text/event-stream']);
  const first = createDeferred<GraphQLResponse>();
  const ended = (async () => {
    const decoder = new TextDecoder();
    let text = '';
    const reader = res.body!.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      text += decoder.decode(chunk.value, { stream: true });
      const data = /event: next\ndata: (.*)\n\n/.exec(text)?.[1];
      if (data) first.resolve(JSON.parse(data) as GraphQLResponse);
    }
    return text;
  })();
  ended.catch(first.reject);
  return { first: first.promise, ended };
}

/** A graphql-ws subscription (no retries) exposing its first event and the close event of its socket. */
function openWs(endpoint: string, query: string, variables: Record<string, unknown>) {
  const closed = createDeferred<{ code: number; reason: string }>();
  const client: Client = createClient({
    url: endpoint.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    on: { closed: (event) => closed.resolve(event as { code: number; reason: string }) },
  });
  cleanups.push(() => client.dispose());
  const first = createDeferred<GraphQLResponse>();
  client.subscribe({ query, variables }, { next: (v) => first.resolve(v as GraphQLResponse), error: () => {}, complete: () => {} });
  return { first: first.promise, closed: closed.promise };
}

const refused = (base: string) =>
  new Promise<string>((resolve) => {
    const { hostname, port } = new URL(base);
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => resolve('connected'));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });

const draining = (main: MainProcess) => main.stderr.waitFor(logMatching({ msg: 'shutdown: draining' }));
/** The fields of the first log entry with this message (undefined if there is none). */
const logEntry = (main: MainProcess, msg: string) => {
  const line = main.stderr.lines.find(logMatching({ msg }));
  return line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>);
};

describe('graceful shutdown (npm start, remote upstream)', () => {
  it('on SIGTERM: readyz 503 draining, no new connections, ws 1001, SSE ends, webhooks and in-flight requests finish, exit 0', async () => {
    // Below Node's 5 s keep-alive timeout (and undici's 4 s): `forcedSockets: 0` at the end then proves that the
    // drain itself closed every socket, none was left to time out.
    const { fake, main, endpoint, base } = await startRemote({ SHUTDOWN_TIMEOUT_MS: '3000' });
    const extract = await graphql(endpoint, await operation('start-frame-extraction'), { assetId: fake.addAsset() });
    const taskId = extract.body.data!.extractFrames.task.id as string;
    const follow = await operation('follow-frame-extraction');
    const ws = openWs(endpoint, follow, { id: taskId });
    const sse = await openSse(endpoint, follow, { id: taskId });
    expect((await ws.first).data).toMatchObject({ frameExtractionTask: { id: taskId, status: 'PENDING' } });
    expect((await sse.first).data).toMatchObject({ frameExtractionTask: { id: taskId, status: 'PENDING' } });

    const inFlight = await heldExtraction(fake, endpoint);
    const readyz = await heldRequest(base, 'GET', '/readyz');
    const { collectionId, frameIds } = fake.addCollection(2);
    const webhook = await heldRequest(base, 'POST', `/webhooks/mavi/${SECRET}`, JSON.stringify(successCallback(taskId, collectionId, frameIds)));
    // A full round trip after the held heads were written: the server has read them before the signal.
    const idle = await idleKeepAlive(base);
    const idleClosed = once(idle, 'close');

    main.child.kill('SIGTERM');
    await draining(main);
    expect(await refused(base)).toBe('ECONNREFUSED');
    await idleClosed;
    const ready = await readyz.finish();
    expect([ready.status, ready.headers.connection, JSON.parse(ready.body).status]).toEqual([503, 'close', 'draining']);
    expect(await ws.closed).toEqual(expect.objectContaining({ code: 1001 }));
    const sseText = await sse.ended;
    expect(sseText).not.toContain('event: complete'); // a `complete` would tell the client not to reconnect
    const accepted = await webhook.finish();
    expect([accepted.status, JSON.parse(accepted.body)]).toEqual([200, expect.objectContaining({ ok: true, result: 'applied' })]);

    inFlight.release();
    const held = await inFlight.response;
    expect([held.status, held.body.data?.extractFrames.__typename]).toEqual([200, 'ExtractFramesSuccess']);
    expect(await main.exited).toEqual({ code: 0, signal: null });
    await main.stderr.closed;
    const phases = main.stderr.lines.map((l) => (JSON.parse(l) as { msg: string }).msg).filter((m) => m.startsWith('shutdown'));
    expect(phases).toEqual([
      'shutdown: signal received',
      'shutdown: draining',
      'shutdown: server closed',
      'shutdown: services disposed',
      'shutdown: complete',
    ]);
    expect(logEntry(main, 'shutdown: server closed')).toMatchObject({ forcedSockets: 0 });
  });

  it('handles a SIGTERM sent the moment the banner appears (exit 0, not killed by the signal)', async () => {
    // With the handlers installed after the banner, most runs of this test died of the signal.
    const { main } = await startRemote();
    main.child.kill('SIGTERM');
    expect(await main.exited).toEqual({ code: 0, signal: null });
  });

  it('destroys what is still open after SHUTDOWN_TIMEOUT_MS and still exits 0', async () => {
    const { fake, main, endpoint } = await startRemote({ SHUTDOWN_TIMEOUT_MS: '300' });
    const inFlight = await heldExtraction(fake, endpoint);
    main.child.kill('SIGTERM');
    await expect(inFlight.response).rejects.toThrow();
    expect(await main.exited).toEqual({ code: 0, signal: null });
    expect(logEntry(main, 'shutdown: server closed')).toMatchObject({ forcedSockets: 1 });
  });

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('exits at once with %s twice (code %i), without waiting for the drain', async (signal, code) => {
    const { fake, main, endpoint } = await startRemote();
    await heldExtraction(fake, endpoint);
    main.child.kill(signal);
    await draining(main);
    main.child.kill(signal);
    expect(await main.exited).toEqual({ code, signal: null });
    expect(logEntry(main, 'shutdown: second signal, exiting now')).toMatchObject({ signal });
  });
});

describe('graceful shutdown (npm start, embedded engine)', () => {
  it('kills the real ffmpeg of a running extraction on SIGTERM and exits 0 with no ffmpeg left', async () => {
    const dir = await tempDir('shutdown-embedded-');
    // Real ffmpeg, made to run until killed: read at native speed (-re), looping the input forever. The wrapper
    // execs it, so the pid the engine logs is ffmpeg's own.
    const looping = path.join(dir, 'ffmpeg');
    await writeFile(looping, `#!/bin/sh\nexec '${ffmpegPath()}' -re -stream_loop -1 "$@"\n`);
    await chmod(looping, 0o755);
    const clip = await readFile(await generateVideo({ dir, seconds: 2 }));
    const main = startMain({
      PORT: '0',
      ENGINE_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: path.join(dir, 'data'),
      MEDIA_CACHE_DIR: path.join(dir, 'media-cache'),
      FFMPEG_PATH: looping,
      LOG_LEVEL: 'info',
    });
    const endpoint = await graphiqlUrl(main);
    const upload = await postGraphQLMultipart(endpoint, {
      query: await operation('upload-video'),
      variables: { file: null },
      files: [{ path: 'variables.file', data: clip, filename: 'clip.mp4', type: 'video/mp4' }],
    });
    const assetId = upload.body.data!.uploadVideo.asset.id as string;
    await main.stderr.waitFor(logMatching({ msg: 'upload probed', assetId }));
    const extract = await graphql(endpoint, await operation('start-frame-extraction'), { assetId });
    const taskId = extract.body.data!.extractFrames.task.id as string;
    const started = await main.stderr.waitFor(logMatching({ msg: 'ffmpeg started', taskId }));
    const ffmpegPid = (JSON.parse(started) as { pid: number }).pid;
    expect(await processesInGroup(main.pid, /^ffmpeg$/)).toEqual([`${ffmpegPid} ffmpeg`]);

    main.child.kill('SIGTERM');
    expect(await main.exited).toEqual({ code: 0, signal: null });
    expect(() => process.kill(ffmpegPid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(await processesInGroup(main.pid, /^(ffmpeg|ffprobe)$/)).toEqual([]);
    expect(logEntry(main, 'shutdown: engine stopped')).toBeDefined();
  });
});

/**
 * `npm start` as a user runs it: `node --import tsx src/main.ts` with no MAVI_API_KEY (embedded engine), driven
 * over HTTP and graphql-ws, stopped with SIGINT. Each process gets its own process group so the test can prove
 * that nothing (no ffmpeg) outlives it. No sleeps: the test awaits output lines, log events and exits.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLResponse } from '../helpers/gateway.js';
import {
  childrenOf,
  freePort,
  graphiqlUrl,
  killStartedMains,
  logMatching,
  processesInGroup,
  startMain,
  type MainProcess,
} from '../helpers/main-process.js';
import { postGraphQLMultipart } from '../helpers/multipart.js';
import { generateVideo } from '../helpers/video.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const operation = (name: string) => readFileSync(new URL(`../operations/${name}.graphql`, import.meta.url), 'utf8');
const UPLOAD = operation('upload-video');
const ASSET = operation('video-asset');
const EXTRACT = operation('start-frame-extraction');
const FOLLOW = operation('follow-frame-extraction');
const COLLECTION = operation('frame-collection');
const TYPENAME = operation('typename');

const run = promisify(execFile);

// ---------------------------------------------------------------- process helpers

const clients: Client[] = [];
let disposers: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
  // Kills the whole group of each main: after a failed test it may still hold the gateway or an orphaned ffmpeg.
  await killStartedMains();
  for (const dispose of disposers.reverse()) await dispose();
  disposers = [];
});

const MEDIA_COMMAND = /^(ffmpeg|ffprobe|sleep)$/; // `sleep` is the stand-in ffmpeg of the SIGINT test

/** Direct ffmpeg/ffprobe children of `pid` as "pid command" lines (tsx's esbuild service may be there too). */
const mediaChildrenOf = (pid: number) => childrenOf(pid, MEDIA_COMMAND);

/**
 * Live (non-zombie) ffmpeg/ffprobe processes of the process group `pgid`: an orphaned one would survive its
 * parent. (tsx's esbuild helper may still be exiting right after node does; it is not ours to check.)
 */
const mediaProcessesInGroup = (pgid: number) => processesInGroup(pgid, MEDIA_COMMAND);

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  disposers.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Env of an embedded-mode start: tmp data + media cache dirs, no MAVI_API_KEY. */
async function embeddedEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const dir = await tempDir('npm-start-');
  return {
    PORT: String(await freePort()),
    ENGINE_PORT: String(await freePort()),
    HOST: '127.0.0.1',
    DATA_DIR: path.join(dir, 'data'),
    MEDIA_CACHE_DIR: path.join(dir, 'media-cache'),
    LOG_LEVEL: 'info',
    ...extra,
  };
}

async function graphql<T = Record<string, any>>(endpoint: string, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query, variables }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as GraphQLResponse<T>;
}

/** Follows a task over graphql-ws until the server completes the subscription; returns every event. */
async function follow(endpoint: string, taskId: string) {
  const client = createClient({ url: endpoint.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
  clients.push(client);
  const events: Record<string, any>[] = [];
  await new Promise<void>((resolve, reject) => {
    client.subscribe(
      { query: FOLLOW, variables: { id: taskId } },
      { next: (value) => events.push(value.data!.frameExtractionTask as Record<string, any>), error: reject, complete: resolve },
    );
  });
  return events;
}

/** Uploads `clip` through the GraphQL multipart request, waits for the engine's probe, and returns the SUCCESS asset id. */
async function uploadClip(main: MainProcess, endpoint: string, clip: Buffer): Promise<string> {
  const { status, body } = await postGraphQLMultipart(endpoint, {
    query: UPLOAD,
    variables: { file: null },
    files: [{ path: 'variables.file', data: clip, filename: 'clip.mp4', type: 'video/mp4' }],
  });
  expect(status).toBe(200);
  expect(body.data!.uploadVideo).toMatchObject({ __typename: 'UploadVideoSuccess', asset: { id: expect.stringMatching(/^re_\d{18}$/) } });
  const assetId = body.data!.uploadVideo.asset.id as string;
  await main.stderr.waitFor(logMatching({ msg: 'upload probed', assetId }));
  const asset = (await graphql(endpoint, ASSET, { id: assetId })).data!.videoAsset;
  expect(asset).toMatchObject({ id: assetId, filename: 'clip.mp4', fileSize: clip.length, uploadStatus: 'SUCCESS' });
  return assetId;
}

async function startExtraction(endpoint: string, assetId: string): Promise<string> {
  const res = await graphql(endpoint, EXTRACT, { assetId });
  expect(res.data!.extractFrames).toMatchObject({ __typename: 'ExtractFramesSuccess', task: { status: 'PENDING' } });
  return res.data!.extractFrames.task.id as string;
}

// ---------------------------------------------------------------- tests

let clip: Buffer;
let videoDir: string;

beforeAll(async () => {
  videoDir = await mkdtemp(path.join(tmpdir(), 'npm-start-video-'));
  clip = await readFile(await generateVideo({ dir: videoDir, seconds: 4 }));
});

afterAll(async () => {
  if (videoDir) await rm(videoDir, { recursive: true, force: true });
});

describe('npm start (embedded engine)', () => {
  it('serves GraphQL, runs upload → extract → SUCCEEDED, and exits 0 on SIGINT leaving no process behind', async () => {
    const env = await embeddedEnv();
    const main = startMain(env);
    const endpoint = await graphiqlUrl(main);
    expect(endpoint).toBe(`http://localhost:${env.PORT}/graphql`);
    expect(main.stdout.text()).toContain(`Engine:     http://127.0.0.1:${env.ENGINE_PORT} (embedded; no MAVI_API_KEY set)`);
    expect(await graphql(endpoint, TYPENAME)).toEqual({ data: { __typename: 'Query' } });

    const assetId = await uploadClip(main, endpoint, clip);
    const taskId = await startExtraction(endpoint, assetId);
    const events = await follow(endpoint, taskId);
    expect(events.at(-1)).toMatchObject({ id: taskId, status: 'SUCCEEDED', frameCount: 4, error: null });
    expect(events.slice(0, -1).every((e) => e.status === 'PENDING')).toBe(true);

    const collection = (await graphql(endpoint, COLLECTION, { id: events.at(-1)!.collectionId })).data!.frameCollection;
    expect(collection.frames.map((f: { index: number }) => f.index)).toEqual([0, 1, 2, 3]);
    const frame = await fetch(collection.frames[3].url as string);
    expect([frame.status, frame.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
    await frame.arrayBuffer();

    expect(await mediaChildrenOf(main.pid)).toEqual([]); // no ffmpeg/ffprobe left running after the extraction
    main.child.kill('SIGINT');
    expect(await main.exited).toEqual({ code: 0, signal: null });
    expect(await mediaProcessesInGroup(main.pid)).toEqual([]);
    expect(main.stderr.lines.some(logMatching({ msg: 'engine stopped' }))).toBe(true);
  });

  it('prints the real port with PORT=0 and kills a running ffmpeg on SIGINT', async () => {
    const dir = await tempDir('npm-start-ffmpeg-');
    const stuck = path.join(dir, 'ffmpeg');
    await writeFile(stuck, '#!/bin/sh\nexec sleep 60\n');
    await chmod(stuck, 0o755);
    const main = startMain(await embeddedEnv({ PORT: '0', ENGINE_PORT: '0', FFMPEG_PATH: stuck }));
    const endpoint = await graphiqlUrl(main);
    expect(endpoint).toMatch(/^http:\/\/localhost:[1-9]\d*\/graphql$/);

    const taskId = await startExtraction(endpoint, await uploadClip(main, endpoint, clip));
    const line = await main.stderr.waitFor(logMatching({ msg: 'ffmpeg started', taskId }));
    const ffmpegPid = (JSON.parse(line) as { pid: number }).pid;
    expect(await mediaChildrenOf(main.pid)).toEqual([expect.stringMatching(new RegExp(`^${ffmpegPid} (ffmpeg|sleep)$`))]);

    main.child.kill('SIGINT');
    expect(await main.exited).toEqual({ code: 0, signal: null });
    expect(() => process.kill(ffmpegPid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(await mediaProcessesInGroup(main.pid)).toEqual([]);
  });
});

describe('npm start with a bad environment', () => {
  it('exits non-zero with one message when MAVI_API_KEY is set without MAVI_WEBHOOK_SECRET', async () => {
    const main = startMain(await embeddedEnv({ MAVI_API_KEY: 'x' }));
    expect(await main.exited).toEqual({ code: 2, signal: null });
    await main.stderr.closed;
    expect(main.stderr.text()).toMatch(/^Invalid configuration:\n {2}- MAVI_WEBHOOK_SECRET: required when MAVI_API_KEY is set[^\n]*$/);
    expect(main.stdout.text()).not.toContain('GraphiQL');
  });

  it('lists every bad variable, gateway and engine alike, in one message (UPSTREAM_RPS=abc PORT=-1 ENGINE_PORT=abc)', async () => {
    const main = startMain(await embeddedEnv({ UPSTREAM_RPS: 'abc', PORT: '-1', ENGINE_PORT: 'abc' }));
    expect(await main.exited).toEqual({ code: 2, signal: null });
    await main.stderr.closed;
    const text = main.stderr.text();
    expect(text.match(/Invalid configuration:/g)).toHaveLength(1);
    const problems = text.split('\n').filter((l) => l.startsWith('  - '));
    expect(problems).toHaveLength(3);
    expect(problems.map((p) => p.slice(4, p.indexOf(':'))).sort()).toEqual(['ENGINE_PORT', 'PORT', 'UPSTREAM_RPS']);
  });
});

describe('npm start with MAVI_API_KEY (remote upstream mode)', () => {
  it('fronts the configured upstream, logs the webhook URL masked, never prints a secret, and webhook-url prints it whole', async () => {
    const { startFakeUpstream } = await import('../helpers/fake-upstream.js');
    const fake = await startFakeUpstream({ rps: 0, apiKey: 'sk-mavi-remote-key-123456' });
    disposers.push(() => fake.close());
    const secret = 'remote-webhook-secret-abcdef0123';
    const env = await embeddedEnv({
      MAVI_API_KEY: 'sk-mavi-remote-key-123456',
      MAVI_WEBHOOK_SECRET: secret,
      MAVI_BASE_URL: fake.url,
      MEDIA_SIGNING_SECRET: 'media-signing-secret-0123456789abcdef',
    });
    const main = startMain(env);
    const endpoint = await graphiqlUrl(main);
    await main.stdout.waitFor((l) => l.includes('Webhook:'));
    expect(main.stdout.text()).toContain('/webhooks/mavi/rem********');

    const { collectionId } = fake.addCollection(3);
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ frameCollection(id: "${collectionId}") { frameCount } }` }),
    });
    expect(await res.json()).toEqual({ data: { frameCollection: { frameCount: 3 } } });
    expect(fake.calls.map((c) => c.authorization)).toEqual(['sk-mavi-remote-key-123456']);

    main.child.kill('SIGINT');
    expect(await main.exited).toEqual({ code: 0, signal: null });
    await Promise.all([main.stdout.closed, main.stderr.closed]);
    const output = `${main.stdout.text()}\n${main.stderr.text()}`;
    for (const value of [secret, 'sk-mavi-remote-key-123456', 'media-signing-secret-0123456789abcdef']) expect(output).not.toContain(value);

    const printed = await run(process.execPath, ['--import', 'tsx', 'src/webhook-url.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env, PUBLIC_URL: 'https://frames.example.com' },
    });
    expect(printed.stdout).toBe(`https://frames.example.com/webhooks/mavi/${secret}\n`);
  });
});

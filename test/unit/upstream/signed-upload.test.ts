import { expect, it, vi } from 'vitest';
import { createUpstreamClient, type UpstreamClient } from '../../../src/upstream/client.js';
import { isUpstreamError } from '../../../src/upstream/errors.js';
import { createScheduler, type Scheduler } from '../../../src/upstream/rate-limit.js';
import { parseSignedUploadReply } from '../../../src/upstream/types.js';
import { createFakeFetch, json, type FakeFetch } from './fake-fetch.js';
import { settle, useFakeTimersEachTest } from './fake-timers.js';

const KEY = 'sk-mavi-test-SECRET-0123456789abcdef';
const BASE = 'https://upstream.test/serve/api/v2';
const RE = 're_660736410386149376';
const SIGNED = 'https://storage.googleapis.com/bucket/re_660736410386149376?X-Goog-Signature=abc';
const ok = (data: unknown) => json({ code: 200, msg: 'success', data, success: true, failed: false });
const fail = (status: number, msg: string) => json({ code: status, msg, data: null, success: false, failed: true }, status);

let fake: FakeFetch;
let scheduler: Scheduler;
let client: UpstreamClient;
useFakeTimersEachTest({
  setup() {
    fake = createFakeFetch();
    scheduler = createScheduler({ rps: 1 });
    client = createUpstreamClient({ baseUrl: BASE, apiKey: KEY, fetch: fake.fetch, scheduler, retry: { attempts: 4, random: () => 0.5 } });
  },
  teardown: () => scheduler.dispose(),
});

const run = async <T>(promise: Promise<T>) => {
  const settled = settle(promise);
  await vi.runAllTimersAsync();
  return settled;
};

it('POSTs {original_filename} as JSON with the raw key and parses the reply', async () => {
  fake.reply(ok({ asset_id: RE, signed_url: SIGNED, expires_in: 93600 }));
  const { value } = await run(client.createSignedUpload('clip.mp4'));
  expect(value).toEqual({ assetId: RE, signedUrl: SIGNED, expiresInSeconds: 93600 });
  expect(fake.calls).toHaveLength(1);
  const [call] = fake.calls;
  expect([call!.method, call!.url]).toEqual(['POST', `${BASE}/upload/signed-url`]);
  expect(call!.headers.get('authorization')).toBe(KEY);
  expect(call!.headers.get('content-type')).toBe('application/json');
  expect(JSON.parse(call!.body as string)).toEqual({ original_filename: 'clip.mp4' });
});

it('retries a 429 but not a 500 (each call creates an asset)', async () => {
  fake.reply(fail(429, 'Too many requests'), ok({ asset_id: RE, signed_url: SIGNED, expires_in: '93600' }));
  expect((await run(client.createSignedUpload('a.mp4'))).value?.expiresInSeconds).toBe(93600);
  fake.reply(fail(500, 'Internal error'));
  const { error } = await run(client.createSignedUpload('a.mp4'));
  expect(isUpstreamError(error, 'UPSTREAM_ERROR')).toBe(true);
  expect(fake.calls).toHaveLength(3);
});

it('refuses an empty filename without a call', async () => {
  const { error } = await run(client.createSignedUpload(' '));
  expect(isUpstreamError(error, 'BAD_REQUEST')).toBe(true);
  expect(fake.calls).toHaveLength(0);
});

it.each([
  ['no object', null],
  ['a non-re_ id', { asset_id: 'im_1', signed_url: SIGNED, expires_in: 1 }],
  ['a relative URL', { asset_id: RE, signed_url: '/upload/x', expires_in: 1 }],
  ['a javascript: URL', { asset_id: RE, signed_url: 'javascript:alert(1)', expires_in: 1 }],
  ['no expires_in', { asset_id: RE, signed_url: SIGNED }],
  ['a zero expires_in', { asset_id: RE, signed_url: SIGNED, expires_in: 0 }],
  ['a non-decimal expires_in', { asset_id: RE, signed_url: SIGNED, expires_in: '26h' }],
])('rejects a reply with %s as UPSTREAM_ERROR', (_name, data) => {
  let error: unknown;
  try {
    parseSignedUploadReply(data);
  } catch (e) {
    error = e;
  }
  expect(isUpstreamError(error, 'UPSTREAM_ERROR')).toBe(true);
});

it('is paced by the shared scheduler like every other call (1 per second)', async () => {
  const at: number[] = [];
  fake.reply(
    () => (at.push(Date.now()), ok({ asset_id: RE, signed_url: SIGNED, expires_in: 93600 })),
    () => (at.push(Date.now()), ok({ assets: [] })),
    () => (at.push(Date.now()), ok({ asset_id: RE, signed_url: SIGNED, expires_in: 93600 })),
  );
  const calls = [client.createSignedUpload('a.mp4'), client.getMetadata(RE).catch(() => undefined), client.createSignedUpload('b.mp4')];
  await run(Promise.all(calls));
  expect(at).toHaveLength(3);
  expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(1000);
  expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(1000);
});

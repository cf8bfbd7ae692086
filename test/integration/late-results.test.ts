/**
 * Subscribers after TIMED_OUT and when a task vanishes, through the real gateway and fake upstream, over graphql-ws
 * AND SSE: a late result still reaches them, the grace period ends the stream, and a task that disappears (or a
 * registry that cannot be read) ends it with a coded error instead of re-reading forever.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryTaskStore, type TaskStore } from '../../src/jobs/store.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type Subscription, type TestGateway } from '../helpers/gateway.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const EXTRACT = /* GraphQL */ `
  mutation Extract($assetId: ID!) {
    extractFrames(assetId: $assetId) { __typename ... on ExtractFramesSuccess { task { id } } ... on Error { message } }
  }
`;
const WATCH = /* GraphQL */ `
  subscription Watch($id: ID!) { frameExtractionTask(id: $id) { id status frameCount } }
`;
const TIMEOUT_S = 60;

type Transport = 'ws' | 'sse';
type Watch = { frameExtractionTask: { id: string; status: string; frameCount: number | null } };

let fake: FakeUpstream;
let gw: TestGateway | undefined;
let clock: number;

beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  clock = Date.now();
});
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await fake.close();
});

async function start(env: Record<string, string> = {}, store?: TaskStore) {
  gw = await startTestGateway({
    upstreamUrl: fake.url,
    env: { TASK_TIMEOUT_SECONDS: String(TIMEOUT_S), SUBSCRIPTION_RECHECK_MS: '20', ...env },
    deps: { now: () => clock, ...(store ? { store } : {}) },
  });
  fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
  return gw;
}

/** Extracts frames for a new asset and follows the task; resolves once PENDING was received. */
async function followNewTask(gateway: TestGateway, transport: Transport) {
  const res = await gateway.graphql(EXTRACT, { assetId: fake.addAsset() });
  expect(res.data!.extractFrames.__typename).toBe('ExtractFramesSuccess');
  const taskId: string = res.data!.extractFrames.task.id;
  const sub: Subscription<Watch> =
    transport === 'ws' ? gateway.subscribeWs<Watch>(WATCH, { id: taskId }) : gateway.subscribeSse<Watch>(WATCH, { id: taskId });
  expect((await sub.events.next()).data!.frameExtractionTask.status).toBe('PENDING');
  return { taskId, sub };
}

/** Moves the clock to the deadline and runs the sweep; the subscriber must see TIMED_OUT. */
async function timeOut(gateway: TestGateway, sub: Subscription<Watch>) {
  clock += TIMEOUT_S * 1000;
  expect(await gateway.gateway.services.tasks.sweep()).toBe(1);
  expect((await sub.events.next()).data!.frameExtractionTask.status).toBe('TIMED_OUT');
}

/** The stream's last result is a coded error, then it completes and the listener is gone; returns the error. */
async function expectEndsWith(gateway: TestGateway, sub: Subscription<Watch>, code: string) {
  const last = await sub.events.next();
  expect(last.errors).toHaveLength(1);
  expect(last.errors![0]!.extensions).toMatchObject({ code });
  await sub.completed;
  expect(sub.events.size).toBe(0);
  expect(gateway.gateway.services.pubsub.listenerCount()).toBe(0);
  return last.errors![0]!;
}

describe.each<Transport>(['ws', 'sse'])('late results over %s', (transport) => {
  it('keeps the subscription open after TIMED_OUT and delivers a late SUCCEEDED, then completes', async () => {
    const gateway = await start();
    const { taskId, sub } = await followNewTask(gateway, transport);
    await timeOut(gateway, sub);
    expect((await fake.completeTask(taskId, { frames: 2 })).status).toBe(200);
    expect((await sub.events.next()).data!.frameExtractionTask).toEqual({ id: taskId, status: 'SUCCEEDED', frameCount: 2 });
    await sub.completed;
    expect(gateway.gateway.services.pubsub.listenerCount()).toBe(0);
  });

  it('delivers a late FAILED the same way', async () => {
    const gateway = await start();
    const { taskId, sub } = await followNewTask(gateway, transport);
    await timeOut(gateway, sub);
    await fake.failTask(taskId, { message: 'decode failed' });
    expect((await sub.events.next()).data!.frameExtractionTask.status).toBe('FAILED');
    await sub.completed;
  });

  it('completes right after TIMED_OUT when TASK_LATE_RESULT_GRACE_SECONDS is 0', async () => {
    const gateway = await start({ TASK_LATE_RESULT_GRACE_SECONDS: '0' });
    const { sub } = await followNewTask(gateway, transport);
    await timeOut(gateway, sub);
    await sub.completed;
    expect(sub.events.size).toBe(0);
    expect(gateway.gateway.services.pubsub.listenerCount()).toBe(0);
  });

  it('completes when the grace period ends without a late result', async () => {
    const gateway = await start({ TASK_LATE_RESULT_GRACE_SECONDS: '120' });
    const { sub } = await followNewTask(gateway, transport);
    await timeOut(gateway, sub);
    clock += 120_000;
    await sub.completed;
    expect(sub.events.size).toBe(0);
    expect(gateway.gateway.services.pubsub.listenerCount()).toBe(0);
  });

  it('ends with TASK_NOT_FOUND when the task expires from the registry during the grace', async () => {
    const gateway = await start({ TASK_RETENTION_SECONDS: '30' });
    const { sub } = await followNewTask(gateway, transport);
    await timeOut(gateway, sub);
    clock += 31_000;
    await gateway.gateway.services.tasks.sweep(); // drops finished tasks past their retention
    await expectEndsWith(gateway, sub, 'TASK_NOT_FOUND');
  });

  it('ends with SERVICE_UNAVAILABLE when re-reading the registry fails', async () => {
    const memory = createMemoryTaskStore();
    let down = false;
    const store: TaskStore = { ...memory, get: (id) => (down ? Promise.reject(new Error('connect ECONNREFUSED')) : memory.get(id)) };
    const gateway = await start({}, store);
    const { sub } = await followNewTask(gateway, transport);
    down = true;
    const error = await expectEndsWith(gateway, sub, 'SERVICE_UNAVAILABLE');
    expect(error.message).toMatch(/subscribe again/);
    expect(error.message).not.toMatch(/ECONNREFUSED/);
  });

  it('ends with TASK_NOT_FOUND when the task is removed from Redis mid-subscription', async () => {
    const prefix = `frames-test:late:${randomUUID()}:`;
    const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
    try {
      const gateway = await start({ REDIS_URL, REDIS_PREFIX: prefix });
      const { sub } = await followNewTask(gateway, transport);
      // A flushed Redis, limited to this test's keys (other tests share the server).
      const keys = await admin.keys(`${prefix}*`);
      expect(keys.length).toBeGreaterThan(0);
      await admin.del(...keys);
      await expectEndsWith(gateway, sub, 'TASK_NOT_FOUND');
    } finally {
      await gw?.close();
      gw = undefined;
      const left = await admin.keys(`${prefix}*`);
      if (left.length > 0) await admin.del(...left);
      await admin.quit();
    }
  });
});

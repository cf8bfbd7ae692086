/**
 * Redis faults, with a private redis-server (AOF on) that each test kills with SIGKILL and restarts on the same port
 * and directory, under two gateway instances sharing it: a webhook taken during the outage is spooled and replayed,
 * so is a billed task whose registration the outage interrupted (before its webhook), nothing hangs, readiness names
 * Redis, and operations fail fast with SERVICE_UNAVAILABLE.
 */
import { describe, expect, it } from 'vitest';
import { createDeferred } from '../helpers/deferred.js';
import { lastPayload, logged, post, STATE, useRedisFaultLab, WATCH } from '../helpers/redis-fault-lab.js';

const lab = useRedisFaultLab();
const { startInstance, killRedis, restartRedis, extract } = lab;

describe('Redis killed (SIGKILL) and restarted mid-task', () => {
  it('spools a webhook taken during the outage, answers 202, and replays it into the registry once Redis is back', async () => {
    const a = await startInstance();
    const b = await startInstance();
    lab.fake.setWebhookUrl(a.hook);
    const { task } = await extract(a);
    const id = task!.id;
    const before = [a.gw.subscribeWs(WATCH, { id }), b.gw.subscribeWs(WATCH, { id })];
    for (const sub of before) expect((await sub.events.next()).data!.frameExtractionTask).toMatchObject({ status: 'PENDING' });

    await killRedis(a, b);
    const done = await lab.fake.completeTask(id, { frames: 3 });
    expect(done.status).toBe(202);
    expect(await a.spooled()).toHaveLength(1);
    // A malformed body is still refused, and never spooled.
    expect((await post(a.hook, '{"task_id":"' + id + '"')).status).toBe(400);
    expect(await a.spooled()).toHaveLength(1);

    const replayed = a.logs.next(logged('spool replayed'));
    await restartRedis(a, b);
    expect(await replayed).toMatchObject({ applied: 1, remaining: 0 });
    expect(await a.spooled()).toEqual([]);
    for (const instance of [a, b]) {
      expect((await instance.gw.graphql(STATE, { id })).data!.frameExtractionTask).toEqual({ status: 'SUCCEEDED', frameCount: 3 });
    }

    // Subscriptions opened before the outage end either with the result or with a clear error; none hangs.
    for (const sub of before) {
      const last = await lastPayload(sub);
      if (last.errors) expect(last.errors[0]!.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      else expect(last.data!.frameExtractionTask).toEqual({ id, status: 'SUCCEEDED', frameCount: 3 });
    }
    // Subscribing again after the reconnect re-reads the registry.
    for (const instance of [a, b]) {
      const again = instance.gw.subscribeWs(WATCH, { id });
      expect((await again.events.next()).data!.frameExtractionTask).toEqual({ id, status: 'SUCCEEDED', frameCount: 3 });
      await again.completed;
    }
    expect(lab.fake.callsTo('POST', '/video/extract-frames')).toHaveLength(1);
  });

  it('delivers a webhook accepted after the restart to subscribers on both instances, old and new (as events)', async () => {
    // Re-reads far apart: the result can only arrive in time as an event, so the old subscriptions' channels must
    // have been subscribed again on reconnect.
    const a = await startInstance({ recheckMs: 600_000 });
    const b = await startInstance({ recheckMs: 600_000 });
    lab.fake.setWebhookUrl(b.hook);
    const { task } = await extract(a);
    const id = task!.id;
    const old = [a.gw.subscribeWs(WATCH, { id }), b.gw.subscribeWs(WATCH, { id })];
    for (const sub of old) expect((await sub.events.next()).data!.frameExtractionTask).toMatchObject({ status: 'PENDING' });

    await killRedis(a, b);
    await restartRedis(a, b);
    const fresh = [a.gw.subscribeWs(WATCH, { id }), b.gw.subscribeWs(WATCH, { id })];
    for (const sub of fresh) expect((await sub.events.next()).data!.frameExtractionTask).toMatchObject({ status: 'PENDING' });
    const subs = [...old, ...fresh];
    expect((await lab.fake.completeTask(id, { frames: 2 })).status).toBe(200);
    for (const sub of subs) {
      expect((await sub.events.next()).data!.frameExtractionTask).toEqual({ id, status: 'SUCCEEDED', frameCount: 2 });
      await sub.completed;
    }
  });

  it('answers /readyz 503 naming Redis and fails registry operations fast with SERVICE_UNAVAILABLE while it is down', async () => {
    const a = await startInstance();
    const { task } = await extract(a);
    const ready = await fetch(`${a.gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { redis: 'ok', redisPubSub: 'ok' } });

    await killRedis(a);
    const down = await fetch(`${a.gw.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'unavailable', checks: { redis: expect.stringMatching(/^unavailable/) } });

    const query = await a.gw.graphql(STATE, { id: task!.id });
    expect(query.errors).toEqual([expect.objectContaining({ path: ['frameExtractionTask'], extensions: { code: 'SERVICE_UNAVAILABLE' } })]);
    expect(await extract(a)).toEqual({ __typename: 'UpstreamUnavailableError', code: 'SERVICE_UNAVAILABLE' });
    const sub = a.gw.subscribeWs(WATCH, { id: task!.id });
    expect((await sub.events.next()).errors).toEqual([expect.objectContaining({ extensions: { code: 'SERVICE_UNAVAILABLE' } })]);
    // Refused before any billed call.
    expect(lab.fake.callsTo('POST', '/video/extract-frames')).toHaveLength(1);

    await restartRedis(a);
    expect((await fetch(`${a.gw.url}/readyz`)).status).toBe(200);
  });

  it('replays at start-up the spool an instance left when it stopped during the outage', async () => {
    const first = await startInstance();
    lab.fake.setWebhookUrl(first.hook);
    const { task } = await extract(first);
    await killRedis(first);
    expect((await lab.fake.completeTask(task!.id, { frames: 4 })).status).toBe(202);
    await lab.stopInstance(first); // the flush on dispose cannot apply it: it stays on disk
    expect(await first.spooled()).toHaveLength(1);

    await lab.redis.restart();
    const next = await startInstance({ dataDir: first.dataDir });
    expect(await next.spooled()).toEqual([]);
    expect((await next.gw.graphql(STATE, { id: task!.id })).data!.frameExtractionTask).toEqual({ status: 'SUCCEEDED', frameCount: 4 });
  });
});

describe('a billed extract whose registration Redis interrupted', () => {
  it('answers the PENDING task, spools it, and registers it before its spooled webhook once Redis is back', async () => {
    const a = await startInstance();
    const b = await startInstance();
    lab.fake.setWebhookUrl(a.hook);
    const extracting = createDeferred<string>();
    const release = createDeferred();
    lab.fake.onExtract = (taskId) => {
      extracting.resolve(taskId);
      return release.promise;
    };
    const mutation = extract(a);
    const id = await extracting.promise; // billed: the upstream holds the reply
    await killRedis(a, b);
    release.resolve();
    // The caller gets its task (an error would invite a second paid submit), not SERVICE_UNAVAILABLE.
    expect(await mutation).toEqual({ __typename: 'ExtractFramesSuccess', task: { id, status: 'PENDING' } });
    expect(await a.spooledRegistrations()).toHaveLength(1);

    expect((await lab.fake.completeTask(id, { frames: 3 })).status).toBe(202);
    const arrivedBy = Date.now();
    expect(await a.spooled()).toHaveLength(1);

    const replayed = a.logs.next(logged('spool replayed'));
    await restartRedis(a, b);
    expect(await replayed).toMatchObject({ applied: 2, remaining: 0 });
    expect(await a.spooledRegistrations()).toEqual([]);
    expect(await a.spooled()).toEqual([]);
    for (const instance of [a, b]) {
      const sub = instance.gw.subscribeWs(WATCH, { id });
      expect((await sub.events.next()).data!.frameExtractionTask).toEqual({ id, status: 'SUCCEEDED', frameCount: 3 });
      await sub.completed;
    }
    // Completed when the webhook arrived, not when the spool was replayed after the restart.
    const done = await b.gw.graphql(`query Done($id: ID!) { frameExtractionTask(id: $id) { completedAt } }`, { id });
    expect(Date.parse(done.data!.frameExtractionTask.completedAt as string)).toBeLessThanOrEqual(arrivedBy);
    expect(lab.fake.callsTo('POST', '/video/extract-frames')).toHaveLength(1);
  });
});

/**
 * Redis faults that close no connection for everyone: one instance partitioned off (a TCP relay) while another keeps
 * Redis, and a frozen Redis (SIGSTOP) whose sockets stay open. Subscriptions opened before the gap learn what they
 * missed as soon as the connection is back, and registry operations fail within REDIS_COMMAND_TIMEOUT_MS.
 */
import { describe, expect, it } from 'vitest';
import { logged, ROLES, STATE, useRedisFaultLab, WATCH } from '../helpers/redis-fault-lab.js';

const lab = useRedisFaultLab();
const { startInstance, extract, startRelay, freezeRedis } = lab;

/**
 * Instance A behind a TCP relay to Redis, B direct and receiving the webhook, a PENDING task and a subscription on A
 * opened before any gap. Re-reads are 10 minutes apart: only the reconnect can bring a result in time.
 */
async function partitionedPair() {
  const relay = await startRelay();
  const a = await startInstance({ recheckMs: 600_000, redisUrl: relay.url });
  const b = await startInstance({ recheckMs: 600_000 });
  lab.fake.setWebhookUrl(b.hook);
  const { task } = await extract(a);
  const id = task!.id;
  const old = a.gw.subscribeWs(WATCH, { id });
  expect((await old.events.next()).data!.frameExtractionTask).toMatchObject({ status: 'PENDING' });
  return { relay, a, id, old };
}

describe('one instance partitioned from Redis while another keeps it', () => {
  it('wakes a subscription opened before the gap as soon as its connections are back, with the result applied meanwhile', async () => {
    const { relay, a, id, old } = await partitionedPair();

    const lost = ROLES.map((role) => a.logs.next(logged('redis connection lost', role)));
    relay.cut();
    await Promise.all(lost);
    // B applies and publishes it; A hears nothing (Redis pub/sub keeps nothing for a disconnected subscriber).
    expect((await lab.fake.completeTask(id, { frames: 2 })).status).toBe(200);

    const restored = ROLES.map((role) => a.logs.next(logged('redis connection restored', role)));
    relay.heal();
    await Promise.all(restored);
    expect((await old.events.next()).data!.frameExtractionTask).toEqual({ id, status: 'SUCCEEDED', frameCount: 2 });
    await old.completed;
  });

  it('wakes it on the pub/sub subscriber reconnecting alone (the registry connection never dropped)', async () => {
    const { relay, a, id, old } = await partitionedPair();

    const lost = a.logs.next(logged('redis connection lost', 'pubsub-subscribe'));
    relay.cut('frames-pubsub-subscribe');
    await lost;
    expect((await lab.fake.completeTask(id, { frames: 2 })).status).toBe(200);
    const restored = a.logs.next(logged('redis connection restored', 'pubsub-subscribe'));
    relay.heal();
    await restored;
    expect((await old.events.next()).data!.frameExtractionTask).toEqual({ id, status: 'SUCCEEDED', frameCount: 2 });
    await old.completed;
  });
});

describe('Redis frozen (SIGSTOP): the socket stays open and nothing answers', () => {
  it('fails registry operations within REDIS_COMMAND_TIMEOUT_MS, spools the webhook, and replays it once Redis answers', async () => {
    const a = await startInstance({ recheckMs: 600_000, env: { REDIS_COMMAND_TIMEOUT_MS: '300' } });
    lab.fake.setWebhookUrl(a.hook);
    const { task } = await extract(a);
    const id = task!.id;
    const old = a.gw.subscribeWs(WATCH, { id });
    expect((await old.events.next()).data!.frameExtractionTask).toMatchObject({ status: 'PENDING' });
    const thaw = await freezeRedis();

    const query = await a.gw.graphql(STATE, { id });
    expect(query.errors).toEqual([expect.objectContaining({ extensions: { code: 'SERVICE_UNAVAILABLE' } })]);
    expect((await lab.fake.completeTask(id, { frames: 2 })).status).toBe(202);
    expect(await a.spooled()).toHaveLength(1);
    expect((await fetch(`${a.gw.url}/readyz`)).status).toBe(503);

    // No connection closed, so no reconnect replays the spool: its retry timer does (5 s after the failed pass).
    const replayed = a.logs.next(logged('spool replayed'));
    thaw();
    expect(await replayed).toMatchObject({ remaining: 0 });
    expect(await a.spooled()).toEqual([]);
    // Whether the timed-out write ran when Redis woke (the replay is then a duplicate) or not, it is announced.
    expect((await old.events.next()).data!.frameExtractionTask).toEqual({ id, status: 'SUCCEEDED', frameCount: 2 });
    await old.completed;
  });
});

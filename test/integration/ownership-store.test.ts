/**
 * ONE OwnershipStore contract, run over the memory store and the Redis store (a real Redis), so the two cannot
 * drift apart. Each kind opens two handles on one shared state (memory: the same object; Redis: two connections on
 * one prefix) and says how retention passes: the memory store reads an injected clock, Redis expires keys on its own
 * clock (simulated by shortening every TTL by the time that passed, deleting the keys it runs out for).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryOwnershipStore } from '../../src/jobs/ownership-memory.js';
import { createRedisOwnershipStore } from '../../src/jobs/ownership-redis.js';
import { InvalidCursorError, type OwnershipStore } from '../../src/jobs/ownership.js';
import { useTestRedis } from '../helpers/redis.js';
import { T0 } from '../fixtures/tasks.js';

const TASK_RETENTION_MS = 60_000;

const redis = useTestRedis();

interface Pair {
  a: OwnershipStore;
  b: OwnershipStore;
  /** Lets `ms` pass on the store's clock for everything claimed or refreshed since the last call. */
  elapse(ms: number): Promise<void>;
}

const kinds: { name: string; open(): Pair }[] = [
  {
    name: 'memory',
    open() {
      let clock = T0;
      const store = createMemoryOwnershipStore({ retentionMs: { task: TASK_RETENTION_MS }, now: () => clock });
      return {
        a: store,
        b: store,
        elapse: async (ms) => {
          clock += ms;
        },
      };
    },
  },
  {
    name: 'redis',
    open() {
      const prefix = `${redis.prefix}owners-${randomUUID()}:`;
      const make = () =>
        createRedisOwnershipStore({ redis: redis.connect(), prefix, ownsConnection: true, retentionMs: { task: TASK_RETENTION_MS } });
      return {
        a: make(),
        b: make(),
        elapse: async (ms) => {
          const keys = await redis.admin.keys(`${prefix}*`);
          const ttls = await Promise.all(keys.map((k) => redis.admin.pttl(k)));
          // What outlives `ms` keeps the rest of its TTL, so the next elapse continues from there.
          await Promise.all(keys.map((k, i) => (ttls[i]! <= 0 ? null : ttls[i]! <= ms ? redis.admin.del(k) : redis.admin.pexpire(k, ttls[i]! - ms))));
        },
      };
    },
  },
];

describe.each(kinds)('OwnershipStore contract: $name', (kind) => {
  let pair: Pair;
  let a: OwnershipStore;
  let b: OwnershipStore;
  beforeEach(() => {
    pair = kind.open();
    ({ a, b } = pair);
  });
  afterEach(async () => {
    await a.dispose();
    if (b !== a) await b.dispose();
  });

  it('records the first owner; another tenant cannot take the id over', async () => {
    expect(await a.ownerOf('asset', 're_1')).toBeNull();
    expect(await a.claim('asset', 're_1', 'acme', T0)).toBe('acme');
    expect(await b.claim('asset', 're_1', 'globex', T0 + 1)).toBe('acme');
    expect(await b.ownerOf('asset', 're_1')).toBe('acme');
    expect(await b.list('asset', 'globex', { first: 10 })).toEqual({ ids: [], endCursor: null, hasNextPage: false });
    expect((await a.list('asset', 'acme', { first: 10 })).ids).toEqual(['re_1']);
  });

  it('keeps kinds apart: the same id as an asset and as a task are two records', async () => {
    await a.claim('asset', 'x_1', 'acme', T0);
    expect(await b.ownerOf('task', 'x_1')).toBeNull();
    expect(await b.claim('task', 'x_1', 'globex', T0)).toBe('globex');
    expect((await a.list('task', 'acme', { first: 10 })).ids).toEqual([]);
  });

  it('lists newest first, ties by id descending, page by page with opaque cursors', async () => {
    const claims: [string, number][] = [
      ['re_1', T0],
      ['re_2', T0 + 10],
      ['re_3', T0 + 10],
      ['re_4', T0 + 20],
      ['re_5', T0 + 5],
    ];
    for (const [id, at] of claims) await a.claim('asset', id, 'acme', at);
    await a.claim('asset', 're_9', 'globex', T0 + 30);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page = await b.list('asset', 'acme', { first: 2, after });
      seen.push(...page.ids);
      pages++;
      if (!page.hasNextPage) break;
      after = page.endCursor;
    }
    expect(seen).toEqual(['re_4', 're_3', 're_2', 're_5', 're_1']);
    expect(pages).toBe(3);
    const all = await a.list('asset', 'acme', { first: 5 });
    expect(all.hasNextPage).toBe(false);
    expect(await a.list('asset', 'acme', { first: 0 })).toEqual({ ids: [], endCursor: null, hasNextPage: true });
  });

  it('a cursor survives the removal of the id it points at', async () => {
    for (let i = 1; i <= 4; i++) await a.claim('asset', `re_${i}`, 'acme', T0 + i);
    const first = await a.list('asset', 'acme', { first: 2 });
    expect(first.ids).toEqual(['re_4', 're_3']);
    await b.forget('asset', 're_3');
    expect(await b.list('asset', 'acme', { first: 2, after: first.endCursor })).toEqual({
      ids: ['re_2', 're_1'],
      endCursor: expect.any(String),
      hasNextPage: false,
    });
  });

  it('forget makes an id nobody’s and drops it from its owner’s list; it can then be claimed anew', async () => {
    await a.claim('collection', 'im_1', 'acme', T0);
    await a.claim('collection', 'im_2', 'acme', T0 + 1);
    await b.forget('collection', 'im_1');
    await b.forget('collection', 'im_unknown');
    expect(await a.ownerOf('collection', 'im_1')).toBeNull();
    expect((await a.list('collection', 'acme', { first: 10 })).ids).toEqual(['im_2']);
    expect(await b.claim('collection', 'im_1', 'globex', T0 + 2)).toBe('globex');
  });

  it('refuses a cursor no list produced, and a negative or fractional first', async () => {
    for (const after of ['garbage', Buffer.from('[1]').toString('base64url'), Buffer.from('["x","re_1"]').toString('base64url')]) {
      await expect(a.list('asset', 'acme', { first: 1, after })).rejects.toBeInstanceOf(InvalidCursorError);
    }
    await expect(a.list('asset', 'acme', { first: -1 })).rejects.toBeInstanceOf(RangeError);
    await expect(a.list('asset', 'acme', { first: 1.5 })).rejects.toBeInstanceOf(RangeError);
  });

  it('expires tasks after the retention from their last claim; assets and collections stay', async () => {
    await a.claim('task', 't-old', 'acme', T0);
    await a.claim('asset', 're_1', 'acme', T0);
    await a.claim('collection', 'im_1', 'acme', T0);
    await pair.elapse(TASK_RETENTION_MS / 2);
    await a.claim('task', 't-new', 'acme', T0 + 1);
    // The owner claiming again (the task finished) restarts its retention but keeps its place in the list.
    await b.claim('task', 't-old', 'acme', T0 + 99);
    await pair.elapse(TASK_RETENTION_MS / 2);
    expect((await b.list('task', 'acme', { first: 10 })).ids).toEqual(['t-new', 't-old']);
    await pair.elapse(TASK_RETENTION_MS);
    expect(await a.ownerOf('task', 't-old')).toBeNull();
    expect(await b.list('task', 'acme', { first: 10 })).toEqual({ ids: [], endCursor: null, hasNextPage: false });
    expect(await a.ownerOf('asset', 're_1')).toBe('acme');
    expect(await a.ownerOf('collection', 'im_1')).toBe('acme');
    // An expired task id is nobody's: a later owner lists it alone.
    expect(await b.claim('task', 't-old', 'globex', T0 + 200)).toBe('globex');
    expect((await a.list('task', 'globex', { first: 10 })).ids).toEqual(['t-old']);
    expect((await a.list('task', 'acme', { first: 10 })).ids).toEqual([]);
  });

  it('keeps tenants with odd names apart (separators, unicode)', async () => {
    await a.claim('asset', 're_1', 'a:b', T0);
    await a.claim('asset', 're_2', 'a', T0);
    await a.claim('asset', 're_3', 'ünï code 租户', T0);
    expect((await b.list('asset', 'a:b', { first: 10 })).ids).toEqual(['re_1']);
    expect((await b.list('asset', 'a', { first: 10 })).ids).toEqual(['re_2']);
    expect((await b.list('asset', 'ünï code 租户', { first: 10 })).ids).toEqual(['re_3']);
  });
});

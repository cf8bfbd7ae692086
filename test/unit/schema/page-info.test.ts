import { GraphQLError } from 'graphql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryOwnershipStore } from '../../../src/jobs/ownership-memory.js';
import type { OwnershipStore } from '../../../src/jobs/ownership.js';
import { MAX_SCANNED_IDS, pageOwned, type OwnedPageRequest } from '../../../src/schema/page-info.js';

let store: OwnershipStore;
let listCalls: { first: number; after?: string | null }[];

beforeEach(() => {
  const memory = createMemoryOwnershipStore();
  listCalls = [];
  store = {
    ...memory,
    list: (kind, tenant, page) => {
      listCalls.push(page);
      return memory.list(kind, tenant, page);
    },
  };
});
afterEach(() => store.dispose());

/** `count` tasks of `tenant`, `task-00` the oldest. */
async function seed(count: number, tenant = 't1') {
  for (let n = 0; n < count; n++) await store.claim('task', `task-${String(n).padStart(2, '0')}`, tenant, 1_000 + n);
}

const page = (extra: Partial<OwnedPageRequest<string>> = {}) =>
  pageOwned<string>({ ownership: store, kind: 'task', tenant: 't1', first: 3, after: null, load: async (ids) => ids, ...extra });
const ids = (c: { edges: { node: string }[] }) => c.edges.map((e) => e.node);
const codeOf = async (promise: Promise<unknown>) => {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(GraphQLError);
  return (error as GraphQLError).extensions.code;
};

describe('pageOwned', () => {
  it('pages newest first and ends with hasNextPage false', async () => {
    await seed(5);
    const one = await page();
    expect(ids(one)).toEqual(['task-04', 'task-03', 'task-02']);
    expect(one.pageInfo.hasNextPage).toBe(true);
    const two = await page({ after: one.pageInfo.endCursor });
    expect(ids(two)).toEqual(['task-01', 'task-00']);
    expect(two.pageInfo).toEqual({ hasNextPage: false, endCursor: two.edges[1]!.cursor });
    // Following endCursor reads one store page per connection page (no re-reading of skipped ids).
    expect(listCalls).toHaveLength(2);
  });

  it('resumes after any edge cursor, not only endCursor', async () => {
    await seed(6);
    const one = await page({ first: 4 });
    const afterSecond = await page({ after: one.edges[1]!.cursor, first: 2 });
    expect(ids(afterSecond)).toEqual(['task-03', 'task-02']);
    // Chained mid-page cursors stay resumable and keep pointing at the same place.
    const again = await page({ after: afterSecond.edges[0]!.cursor, first: 10 });
    expect(ids(again)).toEqual(['task-02', 'task-01', 'task-00']);
  });

  it('filters while scanning, and endCursor resumes after the ids it passed', async () => {
    await seed(9);
    const even = (id: string) => Number(id.slice(-2)) % 2 === 0;
    const one = await page({ first: 2, keep: even });
    expect(ids(one)).toEqual(['task-08', 'task-06']);
    const two = await page({ first: 2, keep: even, after: one.pageInfo.endCursor });
    expect(ids(two)).toEqual(['task-04', 'task-02']);
    const three = await page({ first: 2, keep: even, after: two.edges[1]!.cursor });
    expect(ids(three)).toEqual(['task-00']);
    expect(three.pageInfo.hasNextPage).toBe(false);
  });

  it('skips ids whose record is gone', async () => {
    await seed(4);
    const result = await page({ first: 10, load: async (list) => list.map((id) => (id === 'task-02' ? null : id)) });
    expect(ids(result)).toEqual(['task-03', 'task-01', 'task-00']);
  });

  it(`examines at most ${MAX_SCANNED_IDS} ids for a filtered page, then returns it short with a cursor to go on`, async () => {
    await seed(1); // the oldest: the only match
    for (let n = 0; n < MAX_SCANNED_IDS + 50; n++) await store.claim('task', `other-${n}`, 't1', 10_000 + n);
    const keep = (id: string) => id.startsWith('task-');
    listCalls = [];
    const short = await page({ first: 5, keep });
    expect(short.edges).toEqual([]);
    expect(short.pageInfo.hasNextPage).toBe(true);
    // Whole store pages while filtering: one round trip per 100 ids examined, not one per id still wanted.
    expect(listCalls.map((call) => call.first)).toEqual(Array(MAX_SCANNED_IDS / 100).fill(100));
    const rest = await page({ first: 5, keep, after: short.pageInfo.endCursor });
    expect(ids(rest)).toEqual(['task-00']);
    expect(rest.pageInfo.hasNextPage).toBe(false);
  });

  it('lists only the tenant asked for', async () => {
    await seed(2, 't1');
    await store.claim('task', 'theirs', 't2', 5_000);
    expect(ids(await page({ first: 10 }))).toEqual(['task-01', 'task-00']);
    expect(ids(await page({ first: 10, tenant: 't2' }))).toEqual(['theirs']);
  });

  it('refuses first outside 1-100 and cursors no list of this kind produced, before reading the store', async () => {
    await seed(3);
    const { edges } = await page();
    listCalls = [];
    expect(await codeOf(page({ first: 0 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(page({ first: 101 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(page({ after: 'not a cursor' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(page({ after: Buffer.from('[1,"task",null,101]').toString('base64url') }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(page({ kind: 'asset', after: edges[0]!.cursor }))).toBe('INVALID_ARGUMENT');
    expect(listCalls).toEqual([]);
  });

  it("refuses a well-wrapped cursor whose store part is forged (the store's InvalidCursorError)", async () => {
    await seed(3);
    const forged = Buffer.from(JSON.stringify([1, 'task', 'garbage', 0])).toString('base64url');
    expect(await codeOf(page({ after: forged }))).toBe('INVALID_ARGUMENT');
  });
});

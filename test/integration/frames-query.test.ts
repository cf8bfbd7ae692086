import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

let fake: FakeUpstream;
let gw: TestGateway;

beforeEach(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  gw = await startTestGateway({ upstreamUrl: fake.url });
});
afterEach(async () => {
  await gw.close();
  await fake.close();
});

const metadataCalls = () => fake.calls.filter((c) => c.path.endsWith('/metadata'));

describe('FrameCollection and Frame through dataloaders', () => {
  it('frameCollection { frames } costs exactly one metadata call, frames ordered by parsed index', async () => {
    const { collectionId, frameIds } = fake.addCollection(12);
    const res = await gw.graphql(
      `query($id: ID!) { frameCollection(id: $id) { id frameCount complete frames(limit: 1000) { id index extension contentType collection { id } } } }`,
      { id: collectionId },
    );
    expect(res.errors).toBeUndefined();
    const c = res.data!.frameCollection;
    expect(c.frameCount).toBe(12);
    expect(c.complete).toBe(true);
    expect(c.frames.map((f: { id: string }) => f.id)).toEqual(frameIds);
    expect(c.frames.map((f: { index: number }) => f.index)).toEqual([...Array(12).keys()]);
    expect(c.frames[0]).toMatchObject({ extension: 'jpg', contentType: 'image/jpeg', collection: { id: collectionId } });
    expect(metadataCalls()).toHaveLength(1);
  });

  it('several frame(id) of one collection cost one collection call; frames are primed from it', async () => {
    const { collectionId, frameIds } = fake.addCollection(5);
    const res = await gw.graphql(`query {
      a: frame(id: "${frameIds[0]}") { id index }
      b: frame(id: "${frameIds[3]}") { id index }
      c: frame(id: "${frameIds[4]}") { id index collection { frameCount frame(index: 2) { id } } }
      missing: frame(id: "${collectionId.replace('im_', 'imc_')}_99") { id }
    }`);
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({
      a: { id: frameIds[0], index: 0 },
      b: { id: frameIds[3], index: 3 },
      c: { id: frameIds[4], index: 4, collection: { frameCount: 5, frame: { id: frameIds[2] } } },
      missing: null,
    });
    expect(metadataCalls()).toHaveLength(1);
    expect(metadataCalls()[0]!.path).toBe(`/${collectionId}/metadata`);
  });

  it('100 concurrent identical queries cost one upstream call (shared cache with coalescing)', async () => {
    const { collectionId } = fake.addCollection(500);
    const query = `query($id: ID!) { frameCollection(id: $id) { frameCount frames(offset: 490, limit: 20) { index } } }`;
    const results = await Promise.all(Array.from({ length: 100 }, () => gw.graphql(query, { id: collectionId })));
    for (const r of results) {
      expect(r.errors).toBeUndefined();
      expect(r.data!.frameCollection.frameCount).toBe(500);
      expect(r.data!.frameCollection.frames.map((f: { index: number }) => f.index)).toEqual([...Array(10).keys()].map((i) => 490 + i));
    }
    expect(metadataCalls()).toHaveLength(1);
  });

  it('returns null for an unknown collection and a clear error for a malformed id (no upstream call)', async () => {
    const unknown = await gw.graphql(`{ frameCollection(id: "im_123456789012345678") { id } }`);
    expect(unknown).toEqual({ data: { frameCollection: null } });
    const calls = fake.calls.length;
    const bad = await gw.graphql(`{ frameCollection(id: "re_1") { id } frame(id: "imc_1") { id } }`);
    expect(bad.errors?.map((e) => e.extensions?.code).sort()).toEqual(['INVALID_COLLECTION_ID', 'INVALID_FRAME_ID']);
    expect(fake.calls.length).toBe(calls);
  });

  it('bounds frames(limit:) to 1000', async () => {
    const { collectionId } = fake.addCollection(2);
    const res = await gw.graphql(`query($id: ID!) { frameCollection(id: $id) { frames(limit: 1001) { id } } }`, { id: collectionId });
    expect(res.errors?.[0]?.extensions?.code).toBe('INVALID_ARGUMENT');
    const neg = await gw.graphql(`query($id: ID!) { frameCollection(id: $id) { frames(offset: -1) { id } } }`, { id: collectionId });
    expect(neg.errors?.[0]?.extensions?.code).toBe('INVALID_ARGUMENT');
  });

  it('keeps 18-digit ids exact end to end', async () => {
    const { collectionId, frameIds } = fake.addCollection(1);
    expect(collectionId).toMatch(/^im_\d{18}$/);
    const res = await gw.graphql(`query($id: ID!) { frameCollection(id: $id) { id frames { id } } }`, { id: collectionId });
    expect(res.data!.frameCollection).toEqual({ id: collectionId, frames: [{ id: frameIds[0] }] });
  });
});

describe('never exceeds the upstream rate', () => {
  it('serves a burst of 100 concurrent queries over distinct collections without a single 429', async () => {
    await gw.close();
    await fake.close();
    fake = await startFakeUpstream({ rps: 10 });
    gw = await startTestGateway({ upstreamUrl: fake.url, env: { UPSTREAM_RPS: '10', UPSTREAM_MAX_WAIT_MS: '60000' } });
    const ids = Array.from({ length: 30 }, () => fake.addCollection(2).collectionId);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => gw.graphql(`query($id: ID!) { frameCollection(id: $id) { frameCount } }`, { id: ids[i % ids.length] })),
    );
    for (const r of results) expect(r.data!.frameCollection.frameCount).toBe(2);
    expect(fake.calls.filter((c) => c.status === 429)).toHaveLength(0);
    expect(metadataCalls()).toHaveLength(30);
    // No 1 s window ever holds more than 10 calls, measured on the fake's own clock.
    const at = fake.calls.map((c) => c.at).sort((a, b) => a - b);
    for (let i = 10; i < at.length; i++) expect(at[i]! - at[i - 10]!).toBeGreaterThanOrEqual(1000);
  });
});

describe('abuse limits', () => {
  it('refuses an overly deep query before execution, without upstream calls', async () => {
    const nest = (n: number): string => (n === 0 ? 'id' : `collection { frames { ${nest(n - 1)} } }`);
    const deep = `{ frame(id: "imc_1_0") { ${nest(7)} } }`;
    const res = await gw.graphql(deep);
    expect(res.data ?? null).toBeNull();
    expect(res.errors?.[0]?.message).toMatch(/depth/i);
    // The same limits apply over graphql-ws (executed through yoga's envelop).
    const ws = gw.subscribeWs(deep);
    await expect(ws.completed).rejects.toEqual([expect.objectContaining({ message: expect.stringMatching(/depth/i) })]);
    // ... and a syntax error ends that operation only, not the socket.
    const broken = gw.subscribeWs('{ frame(id: "imc_1_0") { id ');
    await expect(broken.completed).rejects.toEqual([expect.objectContaining({ message: expect.stringMatching(/Syntax Error/) })]);
    expect(fake.calls).toHaveLength(0);
  });
});

/**
 * Renditions, sprites and previews through the REAL gateway (port 0) in front of the fake upstream, whose frames
 * are solid-colour JPEGs (64×36, frame n in colourOf(n)). Every image is decoded from the served BYTES (sharp), and
 * a tile / page is matched to its frame by colour. Upstream cost is read from the fake's call log.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, TEST_WEBHOOK_SECRET, type TestGateway } from '../helpers/gateway.js';
import { postGraphQLMultipart } from '../helpers/multipart.js';
import { colourOf, decode, meanColour, near, solidJpegs } from '../helpers/images.js';

const FRAME_W = 64;
const FRAME_H = 36;
let images: Buffer[] = [];
let fake: FakeUpstream;
let gw: TestGateway;

beforeEach(async () => {
  if (images.length === 0) images = await solidJpegs(500, FRAME_W, FRAME_H);
  fake = await startFakeUpstream({ rps: 0, frameImage: (n) => images[n % images.length]! });
  gw = await startTestGateway({ upstreamUrl: fake.url });
});
afterEach(async () => {
  await gw.close();
  await fake.close();
});

const downloads = () => fake.callsTo('GET', /\/download$/);
const zipDownloads = (collectionId: string) => fake.callsTo('GET', `/${collectionId}/download`);

async function get(url: string, init?: RequestInit): Promise<{ res: Response; body: Buffer }> {
  const res = await fetch(url, init);
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

async function data<T = any>(query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await gw.graphql<T>(query, variables);
  expect(res.errors).toBeUndefined();
  return res.data as T;
}

async function frameUrl(collectionId: string, index: number, args: string): Promise<string> {
  const query = `query($id: ID!, $i: Int!) { frameCollection(id: $id) { frame(index: $i) { url${args ? `(${args})` : ''} } } }`;
  return (await data(query, { id: collectionId, i: index })).frameCollection.frame.url as string;
}

describe('Frame.url renditions', () => {
  it('returns the plain original URL without arguments, and for format ORIGINAL alone', async () => {
    const { collectionId } = fake.addCollection(2);
    const d = await data(
      `query($id: ID!) { frameCollection(id: $id) { frame(index: 1) { plain: url original: url(format: ORIGINAL) fitOnly: url(fit: CONTAIN) } } }`,
      { id: collectionId },
    );
    const { plain, original, fitOnly } = d.frameCollection.frame;
    expect(new URL(plain).search).toMatch(/^\?exp=\d+&sig=[\w-]{43}$/);
    expect(new URL(plain).pathname).toBe(`/media/imc_${collectionId.slice(3)}_1`);
    expect(original).toBe(plain);
    expect(fitOnly).toBe(plain);
    const { res, body } = await get(plain);
    expect(res.status).toBe(200);
    expect(body.equals(images[1]!)).toBe(true);
  });

  it('serves real pixels at the requested size and format', async () => {
    const { collectionId } = fake.addCollection(5);
    const cases: { args: string; format: string; width: number; height: number; type: string }[] = [
      { args: 'width: 240, format: WEBP', format: 'webp', width: 240, height: 135, type: 'image/webp' },
      { args: 'height: 18', format: 'jpeg', width: 32, height: 18, type: 'image/jpeg' },
      { args: 'width: 100, height: 100', format: 'jpeg', width: 100, height: 100, type: 'image/jpeg' },
      { args: 'width: 100, height: 100, fit: CONTAIN, format: PNG', format: 'png', width: 100, height: 100, type: 'image/png' },
      { args: 'width: 100, height: 100, fit: INSIDE, format: JPEG, quality: 60', format: 'jpeg', width: 100, height: 56, type: 'image/jpeg' },
      { args: 'width: 48, format: AVIF, quality: 40', format: 'heif', width: 48, height: 27, type: 'image/avif' },
      { args: 'quality: 30', format: 'jpeg', width: FRAME_W, height: FRAME_H, type: 'image/jpeg' },
    ];
    for (const c of cases) {
      const url = await frameUrl(collectionId, 4, c.args);
      const { res, body } = await get(url);
      expect(res.status, c.args).toBe(200);
      expect(res.headers.get('content-type'), c.args).toBe(c.type);
      expect(await decode(body), c.args).toMatchObject({ format: c.format, width: c.width, height: c.height });
      const centre = { left: Math.floor(c.width / 2) - 4, top: Math.floor(c.height / 2) - 4, width: 8, height: 8 };
      expect(near(await meanColour(body, centre), colourOf(4)), c.args).toBe(true);
    }
    // CONTAIN pads a 100×56 picture into 100×100: the top rows are the (transparent) padding.
    const contain = await get(await frameUrl(collectionId, 4, 'width: 100, height: 100, fit: CONTAIN, format: PNG'));
    expect(near(await meanColour(contain.body, { left: 0, top: 0, width: 100, height: 10 }), { r: 0, g: 0, b: 0 })).toBe(true);
  });

  it('gives one URL per rendition (canonical parameters) and a different one per size', async () => {
    const { collectionId } = fake.addCollection(1);
    const d = await data(
      `query($id: ID!) { frameCollection(id: $id) { frame(index: 0) {
        a: url(width: 160, format: WEBP) b: url(width: 160, format: WEBP, quality: 80) c: url(format: WEBP, width: 160, fit: INSIDE)
        d: url(width: 161, format: WEBP) e: url(width: 160, format: PNG, quality: 10) f: url(width: 160, format: PNG) } } }`,
      { id: collectionId },
    );
    const f = d.frameCollection.frame;
    expect(f.b).toBe(f.a);
    expect(f.c).toBe(f.a);
    expect(f.d).not.toBe(f.a);
    expect(f.e).toBe(f.f);
    expect(new URL(f.a).search).toMatch(/^\?w=160&fmt=webp&exp=\d+&sig=[\w-]{43}$/);
  });

  it('follows the ETag / 304 / Range / HEAD rules of cached media', async () => {
    const { collectionId } = fake.addCollection(1);
    const url = await frameUrl(collectionId, 0, 'width: 200, format: PNG');
    const full = await get(url);
    expect(full.res.status).toBe(200);
    const etag = full.res.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(full.res.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    expect(full.res.headers.get('accept-ranges')).toBe('bytes');
    expect(Number(full.res.headers.get('content-length'))).toBe(full.body.length);

    const notModified = await get(url, { headers: { 'if-none-match': etag } });
    expect(notModified.res.status).toBe(304);
    expect(notModified.body.length).toBe(0);

    const part = await get(url, { headers: { range: 'bytes=0-9' } });
    expect(part.res.status).toBe(206);
    expect(part.res.headers.get('content-range')).toBe(`bytes 0-9/${full.body.length}`);
    expect(part.body.equals(full.body.subarray(0, 10))).toBe(true);

    const staleRange = await get(url, { headers: { range: 'bytes=0-9', 'if-range': '"other"' } });
    expect(staleRange.res.status).toBe(200);

    const head = await get(url, { method: 'HEAD' });
    expect(head.res.status).toBe(200);
    expect(head.res.headers.get('etag')).toBe(etag);
    expect(Number(head.res.headers.get('content-length'))).toBe(full.body.length);
    expect(head.body.length).toBe(0);
  });

  it('rejects out-of-range arguments with INVALID_ARGUMENT and no upstream call', async () => {
    const { collectionId } = fake.addCollection(3);
    await data(`query($id: ID!) { frameCollection(id: $id) { frameCount } }`, { id: collectionId }); // metadata cached
    const before = fake.calls.length;
    const bad = [
      'width: 0',
      'width: 4097',
      'height: -1',
      'height: 5000',
      'quality: 0',
      'quality: 101',
      'width: 10, quality: 1000',
    ];
    for (const args of bad) {
      const res = await gw.graphql(`query($id: ID!) { frameCollection(id: $id) { frame(index: 0) { url(${args}) } } }`, { id: collectionId });
      expect(res.errors?.[0]?.extensions?.code, args).toBe('INVALID_ARGUMENT');
      expect(res.errors?.[0]?.path, args).toEqual(['frameCollection', 'frame', 'url']);
    }
    const collectionBad = [
      'sprite(columns: 0) { url }',
      'sprite(columns: 101) { url }',
      'sprite(tileWidth: 15) { url }',
      'sprite(tileWidth: 1025) { url }',
      'preview(fps: 0)',
      'preview(fps: 31)',
      'preview(width: 15)',
      'preview(width: 1281)',
    ];
    for (const field of collectionBad) {
      const res = await gw.graphql(`query($id: ID!) { frameCollection(id: $id) { ${field} } }`, { id: collectionId });
      expect(res.errors?.[0]?.extensions?.code, field).toBe('INVALID_ARGUMENT');
    }
    expect(fake.calls.length).toBe(before);
  });

  it('answers 403 to a URL whose parameters were edited', async () => {
    const { collectionId } = fake.addCollection(1);
    const url = await frameUrl(collectionId, 0, 'width: 160, format: WEBP');
    const plain = await frameUrl(collectionId, 0, '');
    const edits = [
      url.replace('w=160', 'w=4096'),
      url.replace('fmt=webp', 'fmt=png'),
      url.replace('w=160&', ''),
      url.replace('w=160', 'w=0160'),
      plain.replace('?', '?w=10&'),
      url.replace(/&sig=.*/, ''),
    ];
    const before = fake.calls.length;
    for (const edited of edits) {
      const { res, body } = await get(edited);
      expect(res.status, edited).toBe(403);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(JSON.parse(body.toString()).error).toBe('forbidden');
    }
    expect(fake.calls.length).toBe(before);
    expect((await get(url)).res.status).toBe(200);
  });

  it('makes 100 different renditions of one collection from one zip download', async () => {
    const { collectionId } = fake.addCollection(25);
    const d = await data(
      `query($id: ID!) { frameCollection(id: $id) { frames { a: url(width: 40) b: url(width: 40, format: WEBP) c: url(height: 20, format: PNG) d: url(width: 30, height: 30, format: AVIF) } } }`,
      { id: collectionId },
    );
    const urls = (d.frameCollection.frames as Record<string, string>[]).flatMap((f) => [f.a!, f.b!, f.c!, f.d!]);
    expect(new Set(urls).size).toBe(100);
    const results = await Promise.all(urls.map((url) => get(url)));
    expect(results.map((r) => r.res.status)).toEqual(urls.map(() => 200));
    expect(downloads().map((c) => c.path)).toEqual([`/${collectionId}/download`]);
  });
});

describe('FrameCollection.sprite', () => {
  it('lays out and draws every frame of a 500-frame collection from one zip download', async () => {
    const { collectionId } = fake.addCollection(500);
    const d = await data(
      `query($id: ID!) { frameCollection(id: $id) { sprite(columns: 20, tileWidth: 32, format: PNG) { url columns rows tileWidth tileHeight tiles { index x y } } } }`,
      { id: collectionId },
    );
    const sprite = d.frameCollection.sprite;
    expect(sprite).toMatchObject({ columns: 20, rows: 25, tileWidth: 32, tileHeight: 18 });
    expect(sprite.tiles).toHaveLength(500);
    expect(sprite.tiles[0]).toEqual({ index: 0, x: 0, y: 0 });
    expect(sprite.tiles[21]).toEqual({ index: 21, x: 32, y: 18 });
    expect(sprite.tiles[499]).toEqual({ index: 499, x: 19 * 32, y: 24 * 18 });

    const { res, body } = await get(sprite.url);
    expect(res.status).toBe(200);
    expect(await decode(body)).toMatchObject({ format: 'png', width: 20 * 32, height: 25 * 18 });
    for (const index of [0, 1, 7, 21, 250, 499]) {
      const tile = sprite.tiles[index];
      const region = { left: tile.x + 8, top: tile.y + 4, width: 16, height: 10 };
      expect(near(await meanColour(body, region), colourOf(index)), `tile ${index}`).toBe(true);
    }
    expect(downloads().map((c) => c.path)).toEqual([`/${collectionId}/download`]);
  });

  it('uses the default layout, pads a short last row, and is cached after the first request', async () => {
    const { collectionId } = fake.addCollection(13);
    const d = await data(`query($id: ID!) { frameCollection(id: $id) { sprite { url columns rows tileWidth tileHeight } } }`, { id: collectionId });
    const sprite = d.frameCollection.sprite;
    expect(sprite).toMatchObject({ columns: 10, rows: 2, tileWidth: 160, tileHeight: 90 });
    const first = await get(sprite.url);
    expect(first.res.headers.get('content-type')).toBe('image/jpeg');
    expect(await decode(first.body)).toMatchObject({ format: 'jpeg', width: 1600, height: 180 });
    expect(near(await meanColour(first.body, { left: 1500, top: 100, width: 50, height: 50 }), { r: 0, g: 0, b: 0 })).toBe(true);
    const again = await get(sprite.url, { headers: { 'if-none-match': first.res.headers.get('etag')! } });
    expect(again.res.status).toBe(304);
    expect(zipDownloads(collectionId)).toHaveLength(1);
  });

  it('answers url, columns, rows and tiles.x without any upstream download', async () => {
    const { collectionId } = fake.addCollection(30);
    const d = await data(
      `query($id: ID!) { frameCollection(id: $id) { sprite(columns: 7) { url columns rows tileWidth tiles { index x } } } }`,
      { id: collectionId },
    );
    expect(d.frameCollection.sprite).toMatchObject({ columns: 7, rows: 5, tileWidth: 160 });
    expect(d.frameCollection.sprite.tiles[8]).toEqual({ index: 8, x: 160 });
    expect(downloads()).toHaveLength(0);
  });
});

describe('FrameCollection.preview', () => {
  it('is an animated WebP with one page per frame, in frame order', async () => {
    const { collectionId } = fake.addCollection(6);
    const url = (await data(`query($id: ID!) { frameCollection(id: $id) { preview(width: 48, fps: 5) } }`, { id: collectionId }))
      .frameCollection.preview as string;
    const { res, body } = await get(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/webp');
    expect(await decode(body)).toMatchObject({ format: 'webp', width: 48, pages: 6, pageHeight: 27 });
    for (const page of [0, 3, 5]) {
      expect(near(await meanColour(body, { left: 16, top: 8, width: 16, height: 10 }, page), colourOf(page)), `page ${page}`).toBe(true);
    }
    expect(zipDownloads(collectionId)).toHaveLength(1);
  });

  it('is an animated GIF on request, with the delay from fps', async () => {
    const { collectionId } = fake.addCollection(4);
    const url = (
      await data(`query($id: ID!) { frameCollection(id: $id) { preview(width: 32, fps: 2, format: GIF) } }`, { id: collectionId })
    ).frameCollection.preview as string;
    expect(new URL(url).searchParams.get('d')).toBe('500');
    const { res, body } = await get(url);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(await decode(body)).toMatchObject({ format: 'gif', width: 32, pages: 4, pageHeight: 18 });
    expect(near(await meanColour(body, { left: 8, top: 4, width: 16, height: 10 }, 2), colourOf(2), 40)).toBe(true);
  });
});

describe('deletes and tenants', () => {
  const DELETE = `mutation($id: ID!) { deleteFrameCollection(id: $id) { __typename ... on Error { code } } }`;
  const VARIANTS = `query($id: ID!) { frameCollection(id: $id) { frames { url(width: 20, format: WEBP) } sprite(tileWidth: 16) { url } preview(width: 16) } }`;

  it('evicts the renditions, sprites and previews of a deleted collection with it', async () => {
    const { collectionId } = fake.addCollection(3);
    const d = (await data(VARIANTS, { id: collectionId })).frameCollection;
    const urls = [d.frames[1].url as string, d.sprite.url as string, d.preview as string];
    for (const url of urls) expect((await get(url)).res.status).toBe(200);
    expect((await data(DELETE, { id: collectionId })).deleteFrameCollection.__typename).toBe('DeleteFrameCollectionSuccess');
    // Nothing cached is left to serve: each URL goes back to the upstream, which no longer has the zip.
    for (const url of urls) expect((await get(url)).res.status, url).toBe(404);
  });

  it("mints variant URLs only for the caller's tenant, and they stop serving once the collection is deleted", async () => {
    const secret = 'renditions-test-jwt-secret-0123456789abcdef';
    const { SignJWT } = await import('jose');
    const token = (tenant: string) =>
      new SignJWT({ tenant }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(secret));
    await gw.close();
    gw = await startTestGateway({ upstreamUrl: fake.url, env: { AUTH_JWT_SECRET: secret } });
    fake.setWebhookUrl(`${gw.url}/webhooks/mavi/${TEST_WEBHOOK_SECRET}`);
    const as = async (tenant: string, query: string, variables: Record<string, unknown>) => {
      const res = await fetch(`${gw.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(tenant)}` },
        body: JSON.stringify({ query, variables }),
      });
      return (await res.json()) as { data?: any; errors?: unknown[] };
    };
    const { body } = await postGraphQLMultipart(`${gw.url}/graphql`, {
      query: `mutation($file: File!) { uploadVideo(file: $file) { ... on UploadVideoSuccess { asset { id } } } }`,
      files: [{ path: 'variables.file', data: 'not really a video', filename: 'clip.mp4', type: 'video/mp4' }],
      headers: { authorization: `Bearer ${await token('acme')}` },
    });
    const assetId = body.data!.uploadVideo.asset.id as string;
    const taskId = (await as('acme', `mutation($a: ID!) { extractFrames(assetId: $a) { ... on ExtractFramesSuccess { task { id } } } }`, { a: assetId }))
      .data.extractFrames.task.id as string;
    const { collectionId } = await fake.completeTask(taskId, { frames: 3 });
    await as('acme', `query($id: ID!) { frameExtractionTask(id: $id) { collectionId } }`, { id: taskId });

    expect((await as('globex', VARIANTS, { id: collectionId })).data.frameCollection).toBeNull();
    const mine = (await as('acme', VARIANTS, { id: collectionId })).data.frameCollection;
    const urls = [mine.frames[0].url as string, mine.sprite.url as string, mine.preview as string];
    for (const url of urls) expect((await get(url)).res.status).toBe(200);
    const downloadsBefore = downloads().length;

    expect((await as('acme', DELETE, { id: collectionId })).data.deleteFrameCollection.__typename).toBe('DeleteFrameCollectionSuccess');
    for (const url of urls) expect((await get(url)).res.status, url).toBe(404);
    expect(downloads()).toHaveLength(downloadsBefore);
  });
});

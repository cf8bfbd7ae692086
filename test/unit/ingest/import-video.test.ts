/**
 * The guarded download (`fetchPublicOnly`) and `importVideoFromUrl`'s choice of path. Servers listen on loopback
 * addresses; an injected resolver and policy stand in for DNS and "public" (127.0.0.1 plays the public internet,
 * 127.0.0.2 the private network), so redirects and rebinding-style answers are testable offline.
 */
import type { LookupAddress } from 'node:dns';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PRIVATE_ADDRESS_MESSAGE } from '../../../src/ingest/address-policy.js';
import { fetchPublicOnly, ImportError, importVideoFromUrl, type DownloadGuard, type ImportLimits } from '../../../src/ingest/import-video.js';
import type { UpstreamClient } from '../../../src/upstream/client.js';
import { createDeferred } from '../../helpers/deferred.js';
import { createUploadLimiter } from '../../../src/ingest/upload-limiter.js';
import { useScratchTmpdir } from '../../helpers/scratch-tmpdir.js';

interface TestServer {
  port: number;
  /** Request paths in arrival order. */
  hits: string[];
  base: string;
}

let disposers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const dispose of disposers.reverse()) await dispose();
  disposers = [];
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void, host = '127.0.0.1', port = 0): Promise<TestServer> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  disposers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const actual = (server.address() as AddressInfo).port;
  return { port: actual, hits, base: `http://${host.includes(':') ? `[${host}]` : host}:${actual}` };
}

const video = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'video/mp4' }).end('video-bytes');
const redirectTo = (location: string, status = 302) => (_req: IncomingMessage, res: ServerResponse) =>
  res.writeHead(status, { location }).end();

const NAMES: Record<string, LookupAddress[]> = {
  'public.test': [{ address: '127.0.0.1', family: 4 }],
  'internal.test': [{ address: '127.0.0.2', family: 4 }],
  // A rebinding-style answer: the private address first. Only the allowed one may be connected to.
  'mixed.test': [
    { address: '127.0.0.2', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
};
const guard: DownloadGuard = {
  resolve: async (hostname) => NAMES[hostname] ?? Promise.reject(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })),
  isAllowed: (ip) => ip === '127.0.0.1' || ip === '::1',
};
const get = (url: string, signal = new AbortController().signal) => fetchPublicOnly(new URL(url), signal, guard);

describe('fetchPublicOnly', () => {
  it('follows up to 5 redirects (absolute, relative, by name) and returns the final response', async () => {
    const server = await serve((req, res) => {
      const n = Number(req.url!.slice(1));
      if (n < 5) res.writeHead([301, 302, 303, 307, 308][n]!, { location: n % 2 ? `/${n + 1}` : `http://public.test:${server.port}/${n + 1}` }).end();
      else video(res);
    });
    const res = await get(`${server.base}/0`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(await res.text()).toBe('video-bytes');
    expect(server.hits).toEqual(['/0', '/1', '/2', '/3', '/4', '/5']);
  });

  it('refuses a sixth redirect', async () => {
    const server = await serve((req, res) => redirectTo(`/${Number(req.url!.slice(1)) + 1}`)(req, res));
    await expect(get(`${server.base}/0`)).rejects.toThrow(new ImportError('the URL redirected more than 5 times'));
    expect(server.hits).toHaveLength(6);
  });

  it.each([
    { what: 'an IP literal', target: (port: number) => `http://127.0.0.2:${port}/secret` },
    { what: 'a name resolving to it', target: (port: number) => `http://internal.test:${port}/secret` },
  ])('never connects to a refused address reached through a redirect to $what', async ({ target }) => {
    const internal = await serve((_req, res) => video(res), '127.0.0.2');
    const entry = await serve(redirectTo(target(internal.port)));
    await expect(get(`${entry.base}/start`)).rejects.toThrow(new ImportError(PRIVATE_ADDRESS_MESSAGE));
    expect(entry.hits).toEqual(['/start']);
    expect(internal.hits).toEqual([]);
  });

  it('connects only to the allowed addresses of a name that also resolves to refused ones', async () => {
    const allowed = await serve((_req, res) => video(res));
    const internal = await serve((_req, res) => video(res), '127.0.0.2', allowed.port); // same port, private address
    const res = await get(`http://mixed.test:${allowed.port}/v.mp4`);
    expect(await res.text()).toBe('video-bytes');
    expect(allowed.hits).toEqual(['/v.mp4']);
    expect(internal.hits).toEqual([]);
  });

  it('refuses a refused IP literal before connecting', async () => {
    const internal = await serve((_req, res) => video(res), '127.0.0.2');
    await expect(get(`${internal.base}/x.mp4`)).rejects.toThrow(new ImportError(PRIVATE_ADDRESS_MESSAGE));
    expect(internal.hits).toEqual([]);
  });

  it.each([
    { location: 'file:///etc/passwd', message: 'only http(s) URLs can be imported' },
    { location: 'ftp://public.test/x.mp4', message: 'only http(s) URLs can be imported' },
    { location: 'http://user:pw@public.test/x.mp4', message: 'URLs with credentials are not accepted' },
  ])('refuses a redirect to $location', async ({ location, message }) => {
    const server = await serve(redirectTo(location));
    await expect(get(`${server.base}/`)).rejects.toThrow(new ImportError(`the URL redirected to a URL that is not accepted: ${message}`));
    expect(server.hits).toEqual(['/']);
  });

  it('reaches an allowed IPv6 literal (bracketed Host header)', async () => {
    let host: string | undefined;
    const server = await serve((req, res) => {
      host = req.headers.host;
      video(res);
    }, '::1');
    expect(await (await get(`${server.base}/v.mp4?a=1`)).text()).toBe('video-bytes');
    expect(server.hits).toEqual(['/v.mp4?a=1']);
    expect(host).toBe(`[::1]:${server.port}`);
  });

  it('passes a transport error through (not an ImportError)', async () => {
    const error = await get('http://nowhere.test/x.mp4').catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(ImportError);
    expect(error).toMatchObject({ code: 'ENOTFOUND' });
  });

  it('aborting the signal ends a pending request and a body being streamed', async () => {
    const arrived = createDeferred();
    const pending = await serve(() => arrived.resolve()); // never answers
    const before = new AbortController();
    const request = get(`${pending.base}/slow`, before.signal);
    await arrived.promise;
    before.abort();
    await expect(request).rejects.toMatchObject({ name: 'AbortError' });

    const streaming = await serve((_req, res) => res.writeHead(200, { 'content-type': 'video/mp4' }).write('first chunk'));
    const during = new AbortController();
    const reader = (await get(`${streaming.base}/v.mp4`, during.signal)).body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first chunk');
    during.abort();
    await expect(reader.read()).rejects.toBeDefined();
  });
});

describe('importVideoFromUrl', () => {
  const uploads = createUploadLimiter({ concurrency: 4, maxWaitMs: 1000 });
  const scratch = useScratchTmpdir();
  const limits = (allowPrivateNetworks: boolean) => ({
    maxBytes: 1000,
    timeoutMs: 5000,
    allowPrivateNetworks,
    fetch: vi.fn<typeof fetch>(async () => new Response('video-bytes', { headers: { 'content-type': 'video/mp4' } })),
  }) satisfies ImportLimits;
  const client = () => {
    const upload = vi.fn(async () => ({ assetId: 're_000000000000000001' }));
    return { upload, client: { upload } as unknown as UpstreamClient };
  };

  it.each([
    'http://127.0.0.1/x.mp4',
    'http://localhost/x.mp4', // real DNS (hosts file): only loopback addresses
    'http://[::1]/x.mp4',
    'http://[::ffff:127.0.0.1]/x.mp4',
    'http://[::ffff:7f00:1]/x.mp4',
    'http://0x7f.1/x.mp4',
    'http://2130706433/x.mp4',
    'http://169.254.169.254/latest/meta-data/',
    'https://10.1.2.3/x.mp4',
    'http://[fd00::1]/x.mp4',
    'http://[64:ff9b::a9fe:a9fe]/',
  ])('refuses %s without fetching or uploading', async (url) => {
    const l = limits(false);
    const { upload, client: c } = client();
    await expect(importVideoFromUrl(url, c, l, uploads)).rejects.toThrow(new ImportError(PRIVATE_ADDRESS_MESSAGE));
    expect(l.fetch).not.toHaveBeenCalled();
    expect(upload).not.toHaveBeenCalled();
  });

  it('uses limits.fetch (redirects followed by fetch) when private networks are allowed', async () => {
    const l = limits(true);
    const { upload, client: c } = client();
    expect(await importVideoFromUrl('http://127.0.0.1/dir/x.mp4', c, l, uploads)).toBe('re_000000000000000001');
    expect(l.fetch).toHaveBeenCalledWith(new URL('http://127.0.0.1/dir/x.mp4'), expect.objectContaining({ redirect: 'follow' }));
    expect(upload).toHaveBeenCalledWith(
      expect.objectContaining({ filename: 'x.mp4', contentType: 'video/mp4', body: expect.objectContaining({ size: 11 }) }),
    );
  });

  it('uploads a file-backed copy of what it downloaded, and leaves no temp file', async () => {
    const l = limits(true);
    let sent = '';
    const upload = vi.fn(async (input: { body: Blob }) => {
      sent = await input.body.text(); // read while the upload is in progress, as the real client does
      return { assetId: 're_000000000000000001' };
    });
    await importVideoFromUrl('http://127.0.0.1/x.mp4', { upload } as unknown as UpstreamClient, l, uploads);
    expect(sent).toBe('video-bytes');
    expect(await scratch.entries()).toEqual([]);
  });

  it.each([
    { url: 'http://127.0.0.1/clip%E0%A4%A.mp4', filename: 'clip%E0%A4%A.mp4' },
    { url: 'http://127.0.0.1/100%.mp4', filename: '100%.mp4' },
    { url: 'http://127.0.0.1/caf%C3%A9.mp4', filename: 'café.mp4' },
    { url: 'http://127.0.0.1/dir/', filename: 'video' },
  ])('names the upload $filename for $url (a malformed escape is kept as is, not an error)', async ({ url, filename }) => {
    const l = limits(true);
    const { upload, client: c } = client();
    expect(await importVideoFromUrl(url, c, l, uploads)).toBe('re_000000000000000001');
    expect(l.fetch).toHaveBeenCalledTimes(1);
    expect(upload).toHaveBeenCalledWith(expect.objectContaining({ filename }));
  });

  it('removes its temp file when the upload fails', async () => {
    const l = limits(true);
    const upload = vi.fn(async (input: { body: Blob }) => {
      await input.body.text();
      throw new Error('upstream refused');
    });
    await expect(importVideoFromUrl('http://127.0.0.1/x.mp4', { upload } as unknown as UpstreamClient, l, uploads)).rejects.toThrow(
      'upstream refused',
    );
    expect(await scratch.entries()).toEqual([]);
  });

  it('reports a body that breaks off as an interrupted download, uploading nothing and leaving no temp file', async () => {
    const l = limits(true);
    l.fetch.mockImplementation(async () => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('half a video'));
          controller.error(new Error('connection reset'));
        },
      });
      return new Response(body, { headers: { 'content-type': 'video/mp4' } });
    });
    const { upload, client: c } = client();
    await expect(importVideoFromUrl('http://127.0.0.1/x.mp4', c, l, uploads)).rejects.toThrow(new ImportError('the download was interrupted'));
    expect(upload).not.toHaveBeenCalled();
    expect(await scratch.entries()).toEqual([]);
  });

  it('refuses a body over maxBytes even without a Content-Length, uploading nothing', async () => {
    const l = limits(true);
    const chunk = new Uint8Array(400);
    l.fetch.mockImplementation(async () => {
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(chunk); // endless: only the byte counter stops it
        },
      });
      return new Response(body, { headers: { 'content-type': 'video/mp4' } });
    });
    const { upload, client: c } = client();
    await expect(importVideoFromUrl('http://127.0.0.1/x.mp4', c, l, uploads)).rejects.toThrow(/larger than the limit of 1000 bytes/);
    expect(upload).not.toHaveBeenCalled();
  });

  it.each(['ftp://example.com/x.mp4', 'http://u:p@example.com/x.mp4', 'not a url'])('still refuses %s first', async (url) => {
    const l = limits(false);
    await expect(importVideoFromUrl(url, client().client, l, uploads)).rejects.toBeInstanceOf(ImportError);
    expect(l.fetch).not.toHaveBeenCalled();
  });
});

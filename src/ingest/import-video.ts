/**
 * URL ingest for `importVideo`: v2 has no upload-by-URL, so the gateway fetches the file itself (bounded in size
 * and time, content type checked, http(s) only) and streams it into `POST /upload`. Unless private networks are
 * allowed, the download goes through {@link fetchPublicOnly}: it never connects to a non-public address, redirects
 * and DNS answers included (SSRF guard).
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import type { UpstreamClient } from '../upstream/client.js';
import { hostOf, isPublicAddress, PRIVATE_ADDRESS_MESSAGE, PrivateAddressError, publicOnlyLookup, systemResolver, type Resolver } from './address-policy.js';
import { SpoolError, SpoolLimitError, withSpooledFile } from './spool.js';
import type { UploadLimiter } from './upload-limiter.js';

export class ImportError extends Error {
  override readonly name = 'ImportError';
}

export interface ImportLimits {
  maxBytes: number;
  timeoutMs: number;
  /** Allow loopback, private and link-local targets (off by default: SSRF guard). */
  allowPrivateNetworks: boolean;
  /** Used only when `allowPrivateNetworks` is true; guarded downloads use node:http(s) with a filtering lookup. */
  fetch: typeof fetch;
}

const ACCEPTED = /^(video\/[\w.+-]+|application\/octet-stream|application\/mp4|binary\/octet-stream)$/i;
export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Why `url` may not be fetched at all (scheme, credentials), or undefined. */
function refusal(url: URL): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'only http(s) URLs can be imported';
  if (url.username || url.password) return 'URLs with credentials are not accepted';
  return undefined;
}

/** Who a guarded download may reach; tests inject a resolver and a policy, production uses DNS and the public-only rule. */
export interface DownloadGuard {
  resolve: Resolver;
  isAllowed: (ip: string) => boolean;
}
const PUBLIC_ONLY: DownloadGuard = { resolve: systemResolver, isAllowed: isPublicAddress };

/**
 * GET `url` with node:http(s), following up to {@link MAX_REDIRECTS} redirects by hand, each hop re-checked; every
 * connection goes to an address the guard allows (IP literals are checked here, names by the request's `lookup`).
 * Throws {@link ImportError} for refused targets; other errors are transport errors.
 */
export async function fetchPublicOnly(url: URL, signal: AbortSignal, guard: DownloadGuard = PUBLIC_ONLY): Promise<Response> {
  const lookup = publicOnlyLookup(guard.resolve, guard.isAllowed);
  let current = url;
  for (let hop = 0; ; hop++) {
    const host = hostOf(current);
    if (isIP(host) && !guard.isAllowed(host)) throw new ImportError(PRIVATE_ADDRESS_MESSAGE);
    const res = await get(current, signal, lookup);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) return toResponse(res, signal);
    res.destroy();
    if (hop === MAX_REDIRECTS) throw new ImportError(`the URL redirected more than ${MAX_REDIRECTS} times`);
    try {
      current = new URL(location, current);
    } catch {
      throw new ImportError('the URL redirected to an invalid location');
    }
    const reason = refusal(current);
    if (reason) throw new ImportError(`the URL redirected to a URL that is not accepted: ${reason}`);
  }
}

function get(url: URL, signal: AbortSignal, lookup: ReturnType<typeof publicOnlyLookup>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? https.request : http.request;
    // agent: false -> a fresh socket for every hop, so no pooled connection skips the lookup.
    const req = request(url, { method: 'GET', hostname: hostOf(url), lookup, agent: false, signal, headers: { accept: '*/*' } });
    req.once('response', resolve);
    req.on('error', (error) => reject(error instanceof PrivateAddressError ? new ImportError(PRIVATE_ADDRESS_MESSAGE) : error));
    req.end();
  });
}

/** Wraps a final response as a fetch `Response`; aborting `signal` destroys its body (whole-download timeout). */
function toResponse(res: IncomingMessage, signal: AbortSignal): Response {
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 599 || status === 204 || status === 205 || status === 304) {
    res.destroy();
    throw new ImportError(`the URL answered HTTP ${status}`);
  }
  const abort = () => res.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal.addEventListener('abort', abort, { once: true });
  res.once('close', () => signal.removeEventListener('abort', abort));
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
  }
  return new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, headers });
}

/** The upload's file name: the URL's last path segment, percent-decoded when it decodes (else as is), or 'video'. */
function fileNameOf(url: URL): string {
  const segment = url.pathname.split('/').pop() ?? '';
  let name = segment;
  try {
    name = decodeURIComponent(segment);
  } catch {
    // A malformed escape ("100%.mp4") is still a usable name; decoding it must not fail the import.
  }
  return name.trim() === '' ? 'video' : name;
}

/**
 * Fetches `url` and uploads it in one of `uploads`' slots; returns the new `re_` id. Throws {@link ImportError} for
 * the user's mistakes (checked before taking a slot), the limiter's RATE_LIMITED, or the client's UpstreamError.
 */
export async function importVideoFromUrl(url: string, client: UpstreamClient, limits: ImportLimits, uploads: UploadLimiter): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ImportError('url is not a valid absolute URL');
  }
  const reason = refusal(parsed);
  if (reason) throw new ImportError(reason);
  const filename = fileNameOf(parsed);

  return uploads.run(async () => {
    const signal = AbortSignal.timeout(limits.timeoutMs);
    const { body, contentType } = await download(parsed, signal, limits);
    const spooled = { type: contentType, maxBytes: limits.maxBytes, signal };
    try {
      return await withSpooledFile(body, spooled, async (file) => {
        if (file.size === 0) throw new ImportError('the URL returned an empty file');
        const { assetId } = await client.upload({ body: file, filename, contentType });
        return assetId;
      });
    } catch (error) {
      if (error instanceof SpoolLimitError) throw new ImportError(error.message);
      if (error instanceof SpoolError) {
        throw new ImportError(signal.aborted ? `fetching the URL took longer than ${limits.timeoutMs} ms` : 'the download was interrupted');
      }
      throw error;
    }
  });
}

/** GETs `url` and checks the answer (status, content type, declared size) before anything is spooled. */
async function download(url: URL, signal: AbortSignal, limits: ImportLimits): Promise<{ body: ReadableStream<Uint8Array>; contentType: string }> {
  let response: Response;
  try {
    response = limits.allowPrivateNetworks ? await limits.fetch(url, { signal, redirect: 'follow' }) : await fetchPublicOnly(url, signal);
  } catch (error) {
    if (error instanceof ImportError) throw error;
    throw new ImportError(
      signal.aborted ? `fetching the URL took longer than ${limits.timeoutMs} ms` : `the URL could not be fetched (${(error as Error).message})`,
    );
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new ImportError(`the URL answered HTTP ${response.status}`);
  }
  const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (!ACCEPTED.test(contentType)) {
    await response.body.cancel();
    throw new ImportError(`the URL serves "${contentType || 'no content type'}", not a video`);
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limits.maxBytes) {
    await response.body.cancel();
    throw new ImportError(`the file is ${declared} bytes; the limit is ${limits.maxBytes}`);
  }
  return { body: response.body, contentType };
}

/**
 * URL ingest for `importVideo`: v2 has no upload-by-URL, so the gateway fetches the file itself (bounded in size
 * and time, content type checked, http(s) only) and streams it into `POST /upload`.
 */
import type { UpstreamClient } from '../upstream/client.js';

export class ImportError extends Error {
  override readonly name = 'ImportError';
}

export interface ImportLimits {
  maxBytes: number;
  timeoutMs: number;
  /** Allow loopback, private and link-local targets (off by default: SSRF guard). */
  allowPrivateNetworks: boolean;
  fetch: typeof fetch;
}

const ACCEPTED = /^(video\/[\w.+-]+|application\/octet-stream|application\/mp4|binary\/octet-stream)$/i;

/** Fetches `url` and uploads it; returns the new `re_` id. Throws {@link ImportError} for the user's mistakes. */
export async function importVideoFromUrl(url: string, client: UpstreamClient, limits: ImportLimits): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ImportError('url is not a valid absolute URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ImportError('only http(s) URLs can be imported');
  if (parsed.username || parsed.password) throw new ImportError('URLs with credentials are not accepted');

  const signal = AbortSignal.timeout(limits.timeoutMs);
  let response: Response;
  try {
    response = await limits.fetch(parsed, { signal, redirect: 'follow' });
  } catch (error) {
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

  // Count bytes while streaming so a lying or absent Content-Length cannot exceed the cap.
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limits.maxBytes) throw new ImportError(`the file is larger than the limit of ${limits.maxBytes} bytes`);
      chunks.push(new Uint8Array(value));
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    if (error instanceof ImportError) throw error;
    throw new ImportError(signal.aborted ? `fetching the URL took longer than ${limits.timeoutMs} ms` : 'the download was interrupted');
  }
  if (size === 0) throw new ImportError('the URL returned an empty file');

  const filename = decodeURIComponent(parsed.pathname.split('/').pop() || 'video') || 'video';
  const { assetId } = await client.upload(
    { body: new Blob(chunks, { type: contentType }), filename, contentType, size },
    { priority: 'interactive' },
  );
  return assetId;
}

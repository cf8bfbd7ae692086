/**
 * Embedded mode only: forwards `/upload/signed/<id>?…` (the embedded engine's signed upload target, and nothing
 * else) to the engine, streaming both ways. `npm start` then serves everything a browser needs on the gateway's one
 * port: the signed URLs the engine hands out are built on the gateway's public URL (main.ts sets it), so a browser
 * that can reach the gateway (through Docker's `-p 4000:4000`, a reverse proxy or a forwarded port) can upload,
 * and a page served by the gateway uploads to its own origin. The engine itself stays on loopback, and checks the
 * signature, expiry and single use; this module adds no trust of its own.
 *
 * Hand-written on node:http instead of a proxy library: it is one path to one fixed loopback target, and
 * `pipeline` gives the streaming and back-pressure (a 60 MB upload through it stays at a few 64 KiB chunks in flight).
 */
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../logger.js';
import { sendJson } from './read-body.js';

/** Path prefix the engine's signed upload URLs use (kept equal to src/engine/signed-upload.ts by a test). */
export const SIGNED_UPLOAD_PATH_PREFIX = '/upload/signed/';

/** Request headers that mean something to the engine; the rest (cookies, Authorization, …) are not forwarded. */
const FORWARDED_HEADERS = [
  'content-type',
  'content-length',
  'transfer-encoding',
  'origin',
  'access-control-request-method',
  'access-control-request-headers',
];

/**
 * A request handler that proxies a signed upload request to `engineUrl`. `onStored(assetId)` runs when the engine
 * accepted a file (the gateway then drops any WAITING reply of that asset it still has cached).
 */
export function createSignedUploadProxy(engineUrl: string, logger: Logger, onStored: (assetId: string) => void = () => {}) {
  const target = new URL(engineUrl);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const headers: Record<string, string | string[]> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = req.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    const outgoing = request({
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers,
    });
    const replied = new Promise<IncomingMessage>((resolve, reject) => {
      outgoing.once('response', resolve);
      outgoing.once('error', reject);
    });
    // The engine may answer (403, 409, 413) before the body is sent; the upload side then ends with the exchange.
    const sent = pipeline(req, outgoing).catch(() => undefined);
    let reply: IncomingMessage;
    try {
      reply = await replied;
    } catch (error) {
      logger.warn('signed upload: the embedded engine is unreachable', { error: String(error) });
      req.resume();
      const body = { code: 502, msg: 'The upload service is unreachable', data: null, success: false, failed: true };
      if (!res.headersSent) sendJson(res, 502, body);
      return;
    }
    if (req.method === 'POST' && reply.statusCode === 200) {
      onStored((req.url ?? '').slice(SIGNED_UPLOAD_PATH_PREFIX.length).split('?')[0] ?? '');
    }
    res.writeHead(reply.statusCode ?? 502, reply.headers);
    await pipeline(reply, res).catch(() => res.destroy());
    await sent;
  };
}

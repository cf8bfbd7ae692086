/** The v2 JSON envelope, HTTP errors and small response helpers. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Every JSON reply: `{code, msg, data, success, failed}`; HTTP status == code. */
export interface Envelope<T> {
  code: number;
  msg: string;
  data: T | null;
  success: boolean;
  failed: boolean;
}

/** An error that becomes a JSON envelope with `status` as both HTTP status and `code`. */
export class EngineHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'EngineHttpError';
  }
}

/** "Not found" is HTTP 400 in the v2 contract (there is no 404 for ids). */
export function assetNotFound(): EngineHttpError {
  return new EngineHttpError(400, 'Asset not found');
}

/**
 * Writes a JSON envelope. The engine's own writer, not the gateway's `sendJson` (src/http/read-body.ts): the engine
 * imports nothing from the rest of src/ (it is a separate service reached by URL), and it always answers envelopes.
 */
export function sendEnvelope<T>(res: ServerResponse, status: number, msg: string, data: T | null, headers: Record<string, string> = {}): void {
  const ok = status >= 200 && status < 300;
  const body: Envelope<T> = { code: ok ? 200 : status, msg, data: ok ? data : null, success: ok, failed: !ok };
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** `200 {code:200,msg:"success",data}`. */
export function sendOk<T>(res: ServerResponse, data: T | null): void {
  sendEnvelope(res, 200, 'success', data);
}

/** Writes an error envelope unless headers already went out (then the socket is cut). */
export function sendError(res: ServerResponse, status: number, msg: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendEnvelope(res, status, msg, null, headers);
}

/** Reads a small JSON body; rejects with 400 when too large or not JSON. */
export async function readJsonBody(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new EngineHttpError(413, 'Request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new EngineHttpError(400, 'Request body is not valid JSON');
  }
}

/** `attachment; filename="..."` with an ASCII fallback and an RFC 5987 `filename*` for other characters. */
export function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  if (fallback === filename) return `attachment; filename="${filename}"`;
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

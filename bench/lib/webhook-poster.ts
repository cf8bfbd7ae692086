/**
 * Delivers callback bodies to a gateway's webhook the way the upstream does (POST, JSON), over a keep-alive pool
 * so a 30 s run at 1,000/s does not leave tens of thousands of sockets in TIME_WAIT.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { successCallback, type WireCallback } from '../../test/fixtures/upstream/envelopes.js';

export interface WebhookReply {
  /** HTTP status; 0 when the connection failed. */
  status: number;
  /** The gateway's `result` field (applied, duplicate, parked, ...) when it sent one. */
  result: string | undefined;
}

export interface WebhookPoster {
  post(url: string, body: WireCallback): Promise<WebhookReply>;
  close(): void;
}

/** `maxSockets` bounds connections per gateway; Infinity sends a burst truly at once. */
export function createWebhookPoster(options: { maxSockets: number }): WebhookPoster {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets });
  return {
    post(url, body) {
      const raw = JSON.stringify(body);
      return new Promise<WebhookReply>((resolve) => {
        const request = http.request(url, {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(raw) },
        });
        request.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, result: readResult(Buffer.concat(chunks).toString('utf8')) }));
          res.on('error', () => resolve({ status: 0, result: undefined }));
        });
        request.on('error', () => resolve({ status: 0, result: undefined }));
        request.end(raw);
      });
    },
    close: () => agent.destroy(),
  };
}

function readResult(text: string): string | undefined {
  try {
    const value = JSON.parse(text) as { result?: unknown };
    return typeof value.result === 'string' ? value.result : undefined;
  } catch {
    return undefined;
  }
}

/** A success callback as the spec describes it (`im_` collection, `imc_` frame ids, top-level `task_id`). */
export function successBodyFor(taskId: string): WireCallback {
  const digits = BigInt(`0x${randomBytes(7).toString('hex')}`) + 600_000_000_000_000_000n;
  const collection = `im_${digits}`;
  return successCallback(taskId, collection, [0, 1, 2].map((n) => `imc_${digits}_${n}`));
}

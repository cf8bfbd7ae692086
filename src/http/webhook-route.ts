/**
 * `POST /webhooks/mavi/<secret>`: the account-wide callback URL. The secret path is the only authentication the
 * upstream allows. Persist first, answer 2xx at once; duplicates and foreign task ids are answered 200 too (so
 * the upstream stops retrying) but change nothing. While the registry is unreachable, a valid callback is written
 * to the local spool and answered 202: the upstream never redelivers, so refusing it would lose a paid result.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { applyCallback, findTaskId, parseCallbackBody, TASK_ID_SCAN_OVERLAP, type CallbackResult } from '../jobs/callbacks.js';
import { RegistryUnavailableError } from '../jobs/registry-guard.js';
import type { TaskService } from '../jobs/tasks.js';
import type { WebhookSpool } from '../jobs/webhook-spool.js';
import type { Logger } from '../logger.js';
import { annotateActiveSpan, traceIncomingRequest } from '../observability/spans.js';
import type { ExtractFramesCallback } from '../upstream/types.js';
import { sendJson } from './read-body.js';

export const WEBHOOK_PREFIX = '/webhooks/mavi/';
/** The route as traces name it: the real path carries the secret. */
const WEBHOOK_ROUTE = `${WEBHOOK_PREFIX}{secret}`;

export interface WebhookRouteOptions {
  secret: string;
  maxBodyBytes: number;
  tasks: TaskService;
  logger: Logger;
  /** Where valid callbacks wait while the registry cannot take them; without one they are answered 503. */
  spool?: WebhookSpool;
  /** Metrics: what became of each delivery, and for applied ones the time from arrival to the published event. */
  metrics?: { delivery(outcome: WebhookOutcome): void; published(seconds: number): void };
}

/** What the route did with one delivery (see `WEBHOOK_OUTCOMES` in observability/metrics.ts). */
export type WebhookOutcome = CallbackResult | 'rejected' | 'spooled' | 'failed';

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export function createWebhookRoute(options: WebhookRouteOptions) {
  const { logger } = options;

  const refuseOrSpool = async (
    res: ServerResponse,
    callback: ExtractFramesCallback,
    text: string,
    cause: unknown,
  ): Promise<WebhookOutcome> => {
    const fields = { taskId: callback.taskId, error: cause };
    if (options.spool) {
      try {
        await options.spool.append(text);
        if (cause instanceof RegistryUnavailableError) logger.warn('webhook spooled until the registry is back', fields);
        else logger.error('webhook could not be applied; spooled for a retry', fields);
        sendJson(res, 202, { ok: true, result: 'spooled' });
        return 'spooled';
      } catch (error) {
        logger.error('webhook could not be applied nor spooled', { ...fields, spoolError: error });
      }
    } else {
      logger.error('webhook could not be applied', fields);
    }
    // A non-2xx is all that is left: it at least shows up in the upstream's delivery log.
    sendJson(res, 503, { error: 'temporarily unable to accept the callback' });
    return 'failed';
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<WebhookOutcome> => {
    const secret = pathname.slice(WEBHOOK_PREFIX.length);
    if (!sameSecret(secret, options.secret)) {
      req.resume();
      sendJson(res, 404, { error: 'not found' });
      return 'rejected';
    }
    if (req.method !== 'POST') {
      req.resume();
      sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
      return 'rejected';
    }
    const body = await readBounded(req, options.maxBodyBytes);
    if (!body.ok) {
      sendJson(res, 413, { error: body.error });
      // Logged once the rest has streamed past the scanner: the task_id sits at the end of an upstream callback.
      void body.taskId.then((taskId) => logger.warn('webhook body too large', { error: body.error, taskId }));
      return 'rejected';
    }
    const parsed = parseCallbackBody(body.text);
    const taskId = parsed.ok ? parsed.callback.taskId : parsed.taskId;
    if (taskId) annotateActiveSpan({ 'frames.task.id': taskId });
    if (!parsed.ok) {
      logger.warn('malformed webhook body', { error: parsed.error, taskId: parsed.taskId });
      sendJson(res, 400, { error: parsed.error });
      return 'rejected';
    }
    let result: Awaited<ReturnType<typeof applyCallback>>;
    try {
      result = await applyCallback(parsed.callback, options);
    } catch (error) {
      return refuseOrSpool(res, parsed.callback, body.text, error);
    }
    sendJson(res, 200, { ok: true, result });
    return result;
  };

  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> => {
    const receivedAt = performance.now();
    let outcome: WebhookOutcome = 'rejected'; // a request that broke off mid-body
    try {
      outcome = await traceIncomingRequest(req, res, WEBHOOK_ROUTE, () => handle(req, res, pathname), (done) => ({
        'frames.webhook.outcome': done,
      }));
    } finally {
      options.metrics?.delivery(outcome);
      // The event was published before the reply went out, so this ends a few µs after the publish.
      if (outcome === 'applied') options.metrics?.published((performance.now() - receivedAt) / 1000);
    }
  };
}

type BoundedBody = { ok: true; text: string } | { ok: false; error: string; taskId: Promise<string | null> };

/**
 * Reads a body of at most `maxBytes`. Past the limit it answers at once and stops buffering, but keeps reading
 * (as `resume()` would, so the connection stays usable) through a window of {@link TASK_ID_SCAN_OVERLAP} characters
 * that looks for the body's `task_id`: memory stays bounded whatever the sender sends. Events rather than
 * `for await`: leaving that loop early destroys the request, which can take the socket (and the 413) with it.
 */
function readBounded(req: IncomingMessage, maxBytes: number): Promise<BoundedBody> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  let chunks: Buffer[] | null = [];
  let size = 0;
  let window = '';
  let taskId: string | null = null;
  const scan = (bytes: Buffer) => {
    if (taskId !== null) return;
    // latin1 maps each byte to one character, so a multi-byte character split across chunks cannot hide an id.
    const text = window + bytes.toString('latin1');
    taskId = findTaskId(text);
    window = text.slice(-TASK_ID_SCAN_OVERLAP);
  };
  const drained = new Promise<string | null>((resolve) => {
    req.once('end', () => resolve(taskId));
    req.once('close', () => resolve(taskId));
  });
  return new Promise<BoundedBody>((resolve, reject) => {
    const overflow = (error: string) => {
      if (chunks) scan(Buffer.concat(chunks));
      chunks = null;
      resolve({ ok: false, error, taskId: drained });
    };
    if (declared > maxBytes) overflow(`body is ${declared} bytes; the limit is ${maxBytes}`);
    req.on('data', (chunk: Buffer) => {
      if (!chunks) return scan(chunk);
      size += chunk.length;
      chunks.push(chunk);
      if (size > maxBytes) overflow(`body exceeds the limit of ${maxBytes} bytes`);
    });
    req.once('end', () => {
      if (chunks) resolve({ ok: true, text: Buffer.concat(chunks).toString('utf8') });
    });
    req.once('error', (error) => {
      if (chunks) reject(error);
    });
    // After 'end' this is a no-op; before it, the sender went away mid-body.
    req.once('close', () => {
      if (chunks) reject(new Error('the webhook request closed before its body ended'));
    });
  });
}

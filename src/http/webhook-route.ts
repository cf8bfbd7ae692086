/**
 * `POST /webhooks/mavi/<secret>`: the account-wide callback URL. The secret path is the only authentication the
 * upstream allows. Persist first, answer 2xx at once; duplicates and foreign task ids are answered 200 too (so
 * the upstream stops retrying) but change nothing.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { handleCallbackBody } from '../jobs/callbacks.js';
import type { TaskService } from '../jobs/tasks.js';
import type { Logger } from '../logger.js';
import { BodyTooLargeError, readBody, sendJson } from './read-body.js';

export const WEBHOOK_PREFIX = '/webhooks/mavi/';

export interface WebhookRouteOptions {
  secret: string;
  maxBodyBytes: number;
  tasks: TaskService;
  logger: Logger;
}

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export function createWebhookRoute(options: WebhookRouteOptions) {
  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> => {
    const secret = pathname.slice(WEBHOOK_PREFIX.length);
    if (!sameSecret(secret, options.secret)) {
      req.resume();
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
      return;
    }
    let text: string;
    try {
      text = await readBody(req, options.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        options.logger.warn('webhook body too large', { error: error.message });
        sendJson(res, 413, { error: error.message });
        return;
      }
      throw error;
    }
    try {
      const outcome = await handleCallbackBody(text, options);
      if (outcome.status === 400) {
        options.logger.warn('malformed webhook body', { error: outcome.error });
        sendJson(res, 400, { error: outcome.error });
        return;
      }
      sendJson(res, 200, { ok: true, result: outcome.result });
    } catch (error) {
      // The registry could not persist it: a non-2xx invites the upstream to deliver again.
      options.logger.error('webhook could not be applied', { error });
      sendJson(res, 503, { error: 'temporarily unable to accept the callback' });
    }
  };
}

/**
 * Delivery of task results to the account webhook, like the real API: one POST with a JSON body, bounded
 * retries with exponential backoff on non-2xx or network errors. No webhook configured = not delivered.
 */
import http from 'node:http';
import https from 'node:https';
import type { EngineLogger } from './types.js';

/** Body of the extract-frames callback (`message`, not `msg`). */
export type ExtractFramesCallbackBody =
  | { code: 200; message: 'SUCCESS'; data: { asset_id: string; asset_ch_ids: string[] }; task_id: string }
  | { code: 500; message: string; data: null; task_id: string };

/** Retry policy of webhook deliveries. */
export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
}

/** Sends callback bodies to the current webhook URL. */
export interface CallbackSender {
  setUrl(url: string | undefined): void;
  /** Resolves true when a 2xx was received, false when undeliverable or given up. Never rejects. */
  deliver(body: ExtractFramesCallbackBody): Promise<boolean>;
  /** Aborts in-flight attempts and pending backoffs. */
  dispose(): void;
}

const ATTEMPT_TIMEOUT_MS = 10_000;

/** Creates a sender; `webhookUrl` is read again before every attempt. */
export function createCallbackSender(options: { webhookUrl?: string; retry: RetryPolicy; logger: EngineLogger }): CallbackSender {
  let url = options.webhookUrl;
  const stop = new AbortController();
  const { attempts, baseDelayMs } = options.retry;

  // Own keep-alive agents, destroyed on dispose(), so no webhook socket outlives the engine.
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  const attempt = (target: string, text: string): Promise<string | null> =>
    post(target, text, agents, AbortSignal.any([stop.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)])).then(
      (status) => (status >= 200 && status < 300 ? null : `HTTP ${status}`),
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );

  return {
    setUrl(next) {
      url = next;
    },
    async deliver(body) {
      const text = JSON.stringify(body);
      for (let n = 1; n <= attempts && !stop.signal.aborted; n++) {
        const target = url;
        if (!target) {
          options.logger.warn('no webhook URL configured: task result not delivered', { taskId: body.task_id });
          return false;
        }
        const problem = await attempt(target, text);
        if (problem === null) {
          options.logger.info('callback delivered', { taskId: body.task_id, attempt: n });
          return true;
        }
        if (stop.signal.aborted) break;
        options.logger.warn('callback attempt failed', { taskId: body.task_id, attempt: n, problem });
        if (n < attempts) await abortableDelay(baseDelayMs * 2 ** (n - 1), stop.signal);
      }
      if (stop.signal.aborted) {
        options.logger.warn('callback delivery cancelled: engine stopped', { taskId: body.task_id });
        return false;
      }
      options.logger.error('callback not delivered: giving up', { taskId: body.task_id, attempts });
      return false;
    },
    dispose() {
      stop.abort();
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/** POSTs JSON and resolves with the status once the (discarded) response body has ended. */
function post(target: string, text: string, agents: { http: http.Agent; https: https.Agent }, signal: AbortSignal): Promise<number> {
  const url = new URL(target);
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') return Promise.reject(new Error(`unsupported webhook protocol ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(url, {
      method: 'POST',
      agent: secure ? agents.https : agents.http,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) },
      signal,
    });
    req.once('error', reject);
    req.once('response', (res) => {
      res.once('error', reject);
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.resume();
    });
    req.end(text);
  });
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The account webhook's brain: parse one callback body and apply it to the registry (idempotent per task id).
 * Transport concerns (path secret, body size) stay in the HTTP route.
 */
import type { Logger } from '../logger.js';
import { parseExtractFramesCallback, parseJsonPreservingBigIds } from '../upstream/types.js';
import type { TaskService } from './tasks.js';

export type CallbackOutcome =
  | { status: 400; error: string }
  | { status: 200; result: 'applied' | 'duplicate' | 'parked'; taskId: string };

/** Parses and applies a webhook body. Malformed bodies change nothing. */
export async function handleCallbackBody(text: string, deps: { tasks: TaskService; logger: Logger }): Promise<CallbackOutcome> {
  let body: unknown;
  try {
    body = parseJsonPreservingBigIds(text);
  } catch {
    return { status: 400, error: 'body is not valid JSON' };
  }
  const parsed = parseExtractFramesCallback(body);
  if (!parsed.ok) return { status: 400, error: parsed.error };
  const callback = parsed.value;
  const result = await deps.tasks.applyCallback(callback);
  deps.logger.info('webhook callback', {
    taskId: callback.taskId,
    result,
    succeeded: callback.succeeded,
    frames: callback.frameIds.length,
  });
  return { status: 200, result, taskId: callback.taskId };
}

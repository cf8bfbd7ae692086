/**
 * The account webhook's brain: parse one callback body and apply it to the registry (idempotent per task id).
 * Transport concerns (path secret, body size, spooling while the registry is away) stay in the HTTP route.
 */
import type { Logger } from '../logger.js';
import { parseExtractFramesCallback, parseJsonPreservingBigIds, type ExtractFramesCallback } from '../upstream/types.js';
import type { ApplyCallbackOptions, TaskService } from './tasks.js';

/** What applying a valid callback did (see {@link TaskService.applyCallback}). */
export type CallbackResult = 'applied' | 'duplicate' | 'parked';

/** What {@link handleCallbackBody} did with a body: refused it (400, nothing changed) or applied it. */
export type CallbackOutcome = { status: 400; error: string; taskId: string | null } | { status: 200; result: CallbackResult; taskId: string };

/** A parsed body, or why it is not a callback (with the `task_id` it carried, when one could be read, for logs). */
export type ParsedCallbackBody = { ok: true; callback: ExtractFramesCallback } | { ok: false; error: string; taskId: string | null };

/** What applying a callback needs: the task service (the registry's only writer) and a logger. */
export interface CallbackDeps {
  tasks: TaskService;
  logger: Logger;
}

// Only id-like values are echoed into logs: the body is whatever the sender chose.
const LOGGABLE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const TASK_ID_IN_TEXT = /"task_id"\s*:\s*"([A-Za-z0-9_-]{1,128})"/;

/**
 * The first `"task_id": "<id>"` in a piece of a body that may not parse (truncated, or the part of an oversized body
 * that was read). Longest match: about 150 characters, so callers scanning a stream keep that much overlap.
 */
export function findTaskId(text: string): string | null {
  return TASK_ID_IN_TEXT.exec(text)?.[1] ?? null;
}

/** How many trailing characters a stream scanner must carry between chunks so no `task_id` is split unseen. */
export const TASK_ID_SCAN_OVERLAP = 160;

/** Parses a webhook body. Never throws; malformed bodies change nothing. */
export function parseCallbackBody(text: string): ParsedCallbackBody {
  let body: unknown;
  try {
    body = parseJsonPreservingBigIds(text);
  } catch {
    return { ok: false, error: 'body is not valid JSON', taskId: findTaskId(text) };
  }
  const parsed = parseExtractFramesCallback(body);
  if (parsed.ok) return { ok: true, callback: parsed.value };
  // A body refused for its task_id's type (a number, say) still says which task it was about.
  const topLevel = typeof body === 'object' && body !== null ? (body as { task_id?: unknown }).task_id : undefined;
  const carried = ['string', 'number', 'bigint'].includes(typeof topLevel) ? String(topLevel) : '';
  const taskId = LOGGABLE_ID.test(carried) ? carried : null;
  return { ok: false, error: parsed.error, taskId };
}

/**
 * Applies a parsed callback to the registry; rejects when the registry is unreachable (the callback is then
 * spooled; its replay is idempotent). `options` say when it arrived and whether it is a replay.
 */
export async function applyCallback(callback: ExtractFramesCallback, deps: CallbackDeps, options?: ApplyCallbackOptions): Promise<CallbackResult> {
  const result = await deps.tasks.applyCallback(callback, options);
  deps.logger.info('webhook callback', {
    taskId: callback.taskId,
    result,
    succeeded: callback.succeeded,
    frames: callback.frameIds.length,
  });
  return result;
}

/**
 * Parses and applies a webhook body (the spool replays bodies through here, with the time they were spooled).
 * Malformed bodies change nothing.
 */
export async function handleCallbackBody(text: string, deps: CallbackDeps, options?: ApplyCallbackOptions): Promise<CallbackOutcome> {
  const parsed = parseCallbackBody(text);
  if (!parsed.ok) return { status: 400, error: parsed.error, taskId: parsed.taskId };
  const result = await applyCallback(parsed.callback, deps, options);
  return { status: 200, result, taskId: parsed.callback.taskId };
}

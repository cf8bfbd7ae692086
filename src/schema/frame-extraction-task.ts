import { GraphQLError } from 'graphql';
import { followTask, isTaskStreamEnd, type TaskStreamEnd } from '../jobs/follow-task.js';
import { createLoaders } from '../loaders/index.js';
import type { TaskRecord } from '../jobs/store.js';
import { ASSET_ID_PATTERN, TASK_ID_PATTERN } from '../upstream/types.js';
import { builder } from './builder.js';
import { ErrorCode } from './error-codes.js';
import {
  AssetNotFoundError,
  AssetNotReadyError,
  IdempotencyKeyConflictError,
  InvalidArgumentError,
  InvalidAssetIdError,
  NotAVideoError,
  QuotaExceededError,
  UpstreamRateLimitedError,
  UpstreamUnavailableError,
  invalidIdError,
  toDomainError,
  toQueryError,
} from './errors.js';
import { FrameCollection } from './frame-collection.js';
import { isCallersTask, loadOwned, mayAccess, vouchFor } from './lookup.js';
import { VideoAsset } from './video-asset.js';

export const FrameExtractionStatus = builder.enumType('FrameExtractionStatus', {
  description:
    'Where an extraction task is in its life. SUCCEEDED and FAILED are final; a TIMED_OUT task can still become SUCCEEDED or FAILED.',
  values: {
    PENDING: { description: 'Submitted upstream; waiting for the result callback.' },
    SUCCEEDED: { description: 'Frames are ready in `collection`.' },
    FAILED: { description: 'The upstream reported a failure; see `error`.' },
    TIMED_OUT: {
      description:
        'No callback arrived before the deadline. Not final: a late result still upgrades the task to SUCCEEDED or FAILED, ' +
        'and subscriptions stay open for it during the late-result grace period (TASK_LATE_RESULT_GRACE_SECONDS).',
    },
  } as const,
});

export const FrameExtractionTask = builder.objectRef<TaskRecord>('FrameExtractionTask');

FrameExtractionTask.implement({
  description: 'One extract-frames job this gateway submitted upstream. The gateway is its only record (the upstream has no status endpoint).',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The upstream task id.' }),
    assetId: t.exposeID('assetId', { description: 'The video asset (re_…) frames are extracted from.' }),
    asset: t.field({
      type: VideoAsset,
      nullable: true,
      description: 'The video asset, looked up upstream (null once deleted).',
      resolve: (task, _args, ctx) => loadOwned(ctx, 'asset', task.assetId, (id) => ctx.loaders.asset.load(id)),
    }),
    status: t.field({ type: FrameExtractionStatus, description: 'Current state.', resolve: (task) => task.status }),
    collection: t.field({
      type: FrameCollection,
      nullable: true,
      description: 'The extracted frames, once SUCCEEDED.',
      resolve: (task, _args, ctx) => {
        if (!task.collectionId || !isCallersTask(ctx, task)) return null;
        // A task's collection is its tenant's (recorded at the callback): no separate ownership read.
        vouchFor(ctx, 'collection', task.collectionId);
        return ctx.loaders.collection.load(task.collectionId).catch((e: unknown) => Promise.reject(toQueryError(e)));
      },
    }),
    collectionId: t.exposeID('collectionId', { nullable: true, description: 'The im_… id of the result, once SUCCEEDED.' }),
    frameCount: t.int({
      nullable: true,
      description: 'Number of frames the callback reported, once SUCCEEDED.',
      resolve: (task) => (task.status === 'SUCCEEDED' ? task.frameIds.length : null),
    }),
    error: t.exposeString('error', { nullable: true, description: 'Why the task FAILED or TIMED_OUT, as reported.' }),
    submittedAt: t.field({ type: 'DateTime', description: 'When the gateway submitted it.', resolve: (task) => task.submittedAt }),
    completedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When it reached a final state.',
      resolve: (task) => task.completedAt,
    }),
    deadlineAt: t.field({
      type: 'DateTime',
      description: 'When a still-PENDING task becomes TIMED_OUT.',
      resolve: (task) => task.deadlineAt,
    }),
  }),
});

builder.asEntity(FrameExtractionTask, {
  key: builder.selection<{ id: string }>('id'),
  // Async on purpose, and unknown ids reject: see the Frame entity.
  resolveReference: async (ref, ctx) => {
    if (!TASK_ID_PATTERN.test(ref.id)) throw invalidIdError('task', ref.id);
    const task = await ctx.tasks.get(ref.id);
    if (isCallersTask(ctx, task)) return task;
    throw new GraphQLError(`Unknown task ${ref.id}`, { extensions: { code: ErrorCode.TASK_NOT_FOUND } });
  },
});

const checkTaskId = (id: string) => {
  if (!TASK_ID_PATTERN.test(id)) throw invalidIdError('task', id);
};

builder.queryField('frameExtractionTask', (t) =>
  t.field({
    type: FrameExtractionTask,
    nullable: true,
    description: 'A task by id, or null if this gateway never started it for the caller\'s tenant.',
    args: { id: t.arg.id({ required: true, description: 'The task id returned by extractFrames.' }) },
    resolve: async (_root, { id }, ctx) => {
      checkTaskId(String(id));
      const task = await ctx.tasks.get(String(id));
      return isCallersTask(ctx, task) ? task : null;
    },
  }),
);

const ExtractFramesSuccess = builder.objectRef<{ task: TaskRecord; reused: boolean }>('ExtractFramesSuccess').implement({
  description: 'The extraction was submitted (or an equivalent task was reused).',
  fields: (t) => ({
    task: t.field({ type: FrameExtractionTask, description: 'The task; subscribe to follow it.', resolve: (r) => r.task }),
    reused: t.exposeBoolean('reused', {
      description: 'True when an existing task was returned instead of a new (billed) upstream extraction.',
    }),
  }),
});

builder.mutationField('extractFrames', (t) =>
  t.field({
    type: ExtractFramesSuccess,
    description:
      'Extracts frames from a video asset. Returns at once with a PENDING task; follow it with the `frameExtractionTask` subscription. ' +
      'A PENDING task for the same asset (or one that SUCCEEDED recently) is returned instead of paying twice.',
    errors: {
      types: [
        InvalidAssetIdError,
        AssetNotFoundError,
        UpstreamRateLimitedError,
        UpstreamUnavailableError,
        AssetNotReadyError,
        NotAVideoError,
        InvalidArgumentError,
        IdempotencyKeyConflictError,
        QuotaExceededError,
      ],
      directResult: true,
      union: { name: 'ExtractFramesResult', description: 'The task, or why it could not be started.' },
    },
    args: {
      assetId: t.arg.id({ required: true, description: 'A video asset id, re_<digits>.' }),
      force: t.arg.boolean({
        required: false,
        defaultValue: false,
        description: 'Submit a new extraction even if one is pending or recent (billed again).',
      }),
      idempotencyKey: t.arg.string({
        required: false,
        description:
          'Client-chosen key (1-128 chars); the same key always returns the same task. A key belongs to one asset: ' +
          'sending it with another assetId returns IdempotencyKeyConflictError and submits nothing.',
      }),
    },
    resolve: async (_root, args, ctx) => {
      const assetId = String(args.assetId);
      if (!ASSET_ID_PATTERN.test(assetId)) throw new InvalidAssetIdError(assetId);
      const key = args.idempotencyKey ?? null;
      if (key !== null && !/^[\x21-\x7e]{1,128}$/.test(key)) {
        throw new InvalidArgumentError('idempotencyKey', 'idempotencyKey must be 1-128 printable ASCII characters');
      }
      try {
        // Another tenant's asset (or one never obtained through the gateway) is not found, and costs no upstream call.
        if (!(await mayAccess(ctx, 'asset', assetId))) throw new AssetNotFoundError(assetId);
        return await ctx.tasks.submit(assetId, { force: args.force ?? false, idempotencyKey: key, tenant: ctx.caller.tenant });
      } catch (error) {
        throw toDomainError(error, { assetId });
      }
    },
  }),
);

const streamEndError = (end: TaskStreamEnd) =>
  end.ended === 'TASK_GONE'
    ? new GraphQLError(`Task ${end.taskId} no longer exists (expired or removed from the registry)`, {
        extensions: { code: ErrorCode.TASK_NOT_FOUND },
      })
    : new GraphQLError(`The task registry is unreachable; subscribe again to resume following task ${end.taskId}`, {
        extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
      });

builder.subscriptionField('frameExtractionTask', (t) =>
  t.field({
    type: FrameExtractionTask,
    description:
      'Follows a task: yields its current state at once, then every change, and completes after SUCCEEDED or FAILED. ' +
      'After TIMED_OUT it stays open for the late-result grace period (TASK_LATE_RESULT_GRACE_SECONDS after the timeout) ' +
      'and yields a late SUCCEEDED or FAILED; it completes when the grace ends. An unknown id is an error. ' +
      'If the task disappears while followed, a final TASK_NOT_FOUND error ends the stream; if the registry cannot be ' +
      'read, a final SERVICE_UNAVAILABLE error does (subscribe again).',
    args: { id: t.arg.id({ required: true, description: 'The task id returned by extractFrames.' }) },
    subscribe: async (_root, { id }, ctx) => {
      const taskId = String(id);
      checkTaskId(taskId);
      // Listen first, read second: an update landing between the two is buffered, never lost.
      const updates = ctx.pubsub.subscribe('task:updated', taskId);
      const current = await ctx.tasks.get(taskId).catch(async (error: unknown) => {
        await updates.return();
        throw error;
      });
      if (!isCallersTask(ctx, current)) {
        await updates.return();
        throw new GraphQLError(`Unknown task ${taskId}`, { extensions: { code: ErrorCode.TASK_NOT_FOUND } });
      }
      return followTask(current, updates, {
        recheck: () => ctx.tasks.get(taskId),
        recheckMs: ctx.subscriptionRecheckMs,
        lateResultGraceMs: ctx.lateResultGraceSeconds * 1000,
        now: ctx.now,
      });
    },
    // Each event gets fresh DataLoaders: the subscription's context lives as long as the subscription, and a
    // loader cache must not carry one event's reads into the next (stale-loader pitfall).
    resolve: (event, _args, ctx) => {
      if (isTaskStreamEnd(event)) {
        if (event.cause !== undefined) {
          ctx.logger.warn('task subscription ended: registry read failed', { taskId: event.taskId, error: event.cause });
        }
        throw streamEndError(event);
      }
      ctx.loaders = createLoaders(ctx.metadata);
      return event;
    },
  }),
);

import type { TaskRecord } from '../jobs/store.js';
import { builder } from './builder.js';
import { FrameExtractionStatus, FrameExtractionTask } from './frame-extraction-task.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_SCANNED_IDS, PageInfo, pageOwned, type ConnectionData, type Edge } from './page-info.js';

const FrameExtractionTaskEdge = builder.objectRef<Edge<TaskRecord>>('FrameExtractionTaskEdge').implement({
  description: 'One task of a FrameExtractionTaskConnection.',
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: 'Opaque cursor of this task: pass it as `after` to continue after it.' }),
    node: t.field({ type: FrameExtractionTask, description: 'The task.', resolve: (edge) => edge.node }),
  }),
});

export const FrameExtractionTaskConnection = builder
  .objectRef<ConnectionData<TaskRecord>>('FrameExtractionTaskConnection')
  .implement({
    description: "A page of the caller's extraction tasks, newest first.",
    fields: (t) => ({
      edges: t.field({ type: [FrameExtractionTaskEdge], description: 'The tasks of this page.', resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfo, description: 'Where this page ends.', resolve: (c) => c.pageInfo }),
    }),
  });

builder.queryField('frameExtractionTasks', (t) =>
  t.field({
    type: FrameExtractionTaskConnection,
    description:
      `The extraction tasks the caller's tenant started through this gateway, newest first (the gateway's registry is ` +
      `the only list: the upstream has none). Tasks leave it with their registry records (TASK_RETENTION_SECONDS). ` +
      `With \`status\`, one page examines at most ${MAX_SCANNED_IDS} tasks, so it may hold fewer than \`first\` ` +
      `while \`hasNextPage\` is true: continue from \`endCursor\`.`,
    args: {
      first: t.arg.int({ defaultValue: DEFAULT_PAGE_SIZE, description: `Tasks per page (1-${MAX_PAGE_SIZE}).` }),
      after: t.arg.string({ required: false, description: 'Return the tasks after this cursor (an `endCursor` or edge `cursor`).' }),
      status: t.arg({ type: FrameExtractionStatus, required: false, description: 'Only tasks currently in this state.' }),
    },
    resolve: (_root, args, ctx) =>
      pageOwned({
        ownership: ctx.ownership,
        kind: 'task',
        tenant: ctx.caller.tenant,
        first: args.first,
        after: args.after,
        load: (ids) => Promise.all(ids.map((id) => ctx.tasks.get(id))),
        ...(args.status ? { keep: (task: TaskRecord) => task.status === args.status } : {}),
      }),
  }),
);

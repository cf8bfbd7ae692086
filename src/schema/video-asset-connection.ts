import { toQueryError } from './errors.js';
import { builder } from './builder.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageInfo, pageOwned, type ConnectionData, type Edge } from './page-info.js';
import { VideoAsset } from './video-asset.js';

/** The node is the asset id: its metadata is read only when a client selects it (one upstream call per asset). */
const VideoAssetEdge = builder.objectRef<Edge<string>>('VideoAssetEdge').implement({
  description: 'One asset of a VideoAssetConnection.',
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: 'Opaque cursor of this asset: pass it as `after` to continue after it.' }),
    node: t.field({
      type: VideoAsset,
      nullable: true,
      description:
        'The asset, looked up upstream (cached; the upstream has no batch lookup, so each uncached asset is one call at ' +
        "the account's 1 request/s). Null when it no longer exists upstream (deleted outside this gateway).",
      resolve: (edge, _args, ctx) => ctx.loaders.asset.load(edge.node).catch((e: unknown) => Promise.reject(toQueryError(e))),
    }),
  }),
});

export const VideoAssetConnection = builder.objectRef<ConnectionData<string>>('VideoAssetConnection').implement({
  description: "A page of the caller's video assets, newest first.",
  fields: (t) => ({
    edges: t.field({ type: [VideoAssetEdge], description: 'The assets of this page.', resolve: (c) => c.edges }),
    pageInfo: t.field({ type: PageInfo, description: 'Where this page ends.', resolve: (c) => c.pageInfo }),
  }),
});

builder.queryField('videoAssets', (t) =>
  t.field({
    type: VideoAssetConnection,
    description:
      "The assets the caller's tenant uploaded or imported through this gateway, newest first (the gateway's registry is " +
      'the only list: the upstream has none). A deleted asset leaves the list.',
    args: {
      first: t.arg.int({ defaultValue: DEFAULT_PAGE_SIZE, description: `Assets per page (1-${MAX_PAGE_SIZE}).` }),
      after: t.arg.string({ required: false, description: 'Return the assets after this cursor (an `endCursor` or edge `cursor`).' }),
    },
    resolve: (_root, args, ctx) =>
      pageOwned({
        ownership: ctx.ownership,
        kind: 'asset',
        tenant: ctx.caller.tenant,
        first: args.first,
        after: args.after,
        load: async (ids) => ids,
      }),
  }),
);

import { ASSET_ID_PATTERN } from '../upstream/types.js';
import { builder } from './builder.js';
import { deleteOwned } from './deletion.js';
import { AssetNotFoundError, InvalidAssetIdError, UpstreamRateLimitedError, UpstreamUnavailableError } from './errors.js';

const DeleteVideoAssetSuccess = builder.objectRef<{ deletedId: string }>('DeleteVideoAssetSuccess').implement({
  description: 'The asset was deleted upstream (permanently) and removed from the gateway.',
  fields: (t) => ({ deletedId: t.exposeID('deletedId', { description: 'The id of the deleted asset.' }) }),
});

builder.mutationField('deleteVideoAsset', (t) =>
  t.field({
    type: DeleteVideoAssetSuccess,
    description:
      "Permanently deletes one of the caller's assets upstream, then forgets it (it leaves `videoAssets`) and drops the " +
      'cached metadata and media of it. Frame collections extracted from it are not deleted. An asset the caller ' +
      'does not own is AssetNotFoundError, without any upstream call.',
    errors: {
      types: [InvalidAssetIdError, AssetNotFoundError, UpstreamRateLimitedError, UpstreamUnavailableError],
      directResult: true,
      union: { name: 'DeleteVideoAssetResult', description: 'The deleted id, or why nothing was deleted.' },
    },
    args: { id: t.arg.id({ required: true, description: 'The asset id, re_<digits>.' }) },
    resolve: async (_root, args, ctx) => {
      const id = String(args.id);
      if (!ASSET_ID_PATTERN.test(id)) throw new InvalidAssetIdError(id.slice(0, 80));
      await deleteOwned(ctx, 'asset', id);
      return { deletedId: id };
    },
  }),
);

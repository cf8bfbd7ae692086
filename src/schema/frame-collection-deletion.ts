import { COLLECTION_ID_PATTERN } from '../upstream/types.js';
import { builder } from './builder.js';
import { deleteOwned } from './deletion.js';
import { AssetNotFoundError, InvalidArgumentError, UpstreamRateLimitedError, UpstreamUnavailableError } from './errors.js';

const DeleteFrameCollectionSuccess = builder.objectRef<{ deletedId: string }>('DeleteFrameCollectionSuccess').implement({
  description: 'The collection and its frames were deleted upstream (permanently) and removed from the gateway.',
  fields: (t) => ({ deletedId: t.exposeID('deletedId', { description: 'The id of the deleted collection.' }) }),
});

builder.mutationField('deleteFrameCollection', (t) =>
  t.field({
    type: DeleteFrameCollectionSuccess,
    description:
      "Permanently deletes one of the caller's frame collections (with its frames) upstream, then forgets it and drops " +
      'the cached metadata, zip and frames of it. The task that produced it keeps its record and `collectionId`. A ' +
      'collection the caller does not own is AssetNotFoundError, without any upstream call.',
    errors: {
      types: [InvalidArgumentError, AssetNotFoundError, UpstreamRateLimitedError, UpstreamUnavailableError],
      directResult: true,
      union: { name: 'DeleteFrameCollectionResult', description: 'The deleted id, or why nothing was deleted.' },
    },
    args: { id: t.arg.id({ required: true, description: 'The collection id, im_<digits>.' }) },
    resolve: async (_root, args, ctx) => {
      const id = String(args.id);
      if (!COLLECTION_ID_PATTERN.test(id)) {
        throw new InvalidArgumentError('id', `"${id.slice(0, 80)}" is not a frame collection id (expected im_<digits>)`);
      }
      await deleteOwned(ctx, 'collection', id);
      return { deletedId: id };
    },
  }),
);

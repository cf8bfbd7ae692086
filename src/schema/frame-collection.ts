import { GraphQLError } from 'graphql';
import { frameAtIndex, type CollectionData } from '../loaders/index.js';
import { COLLECTION_ID_PATTERN } from '../upstream/types.js';
import { builder } from './builder.js';
import { lookupById, ownedMediaUrl, resolveEntity } from './lookup.js';
import { ErrorCode } from './error-codes.js';
import { Frame } from './frame.js';
import { FrameSprite } from './frame-sprite.js';
import { checkedVariant, ImageFormat, PreviewFormat } from './image-enums.js';
import { LIMITS, previewVariant, spriteVariant } from '../media/variants.js';

export const MAX_FRAMES_PAGE = 1000;

export const FrameCollection = builder.objectRef<CollectionData>('FrameCollection');

FrameCollection.implement({
  description: 'The frames one extraction produced (an im_… image collection). Immutable once it exists.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The collection id, im_<digits>.' }),
    frameCount: t.int({ description: 'Number of frames available.', resolve: (c) => c.frames.length }),
    complete: t.boolean({
      description: 'False when the upstream listed fewer frames than its reported total.',
      resolve: (c) => c.frames.length >= c.total,
    }),
    frames: t.field({
      type: [Frame],
      description: `Frames ordered by index. \`limit\` is at most ${MAX_FRAMES_PAGE}.`,
      args: {
        offset: t.arg.int({ defaultValue: 0, description: 'Frames to skip.' }),
        limit: t.arg.int({ defaultValue: 100, description: `Frames to return (0-${MAX_FRAMES_PAGE}).` }),
      },
      resolve: (c, { offset, limit }) => {
        const from = offset ?? 0;
        const count = limit ?? 100;
        if (from < 0) throw new GraphQLError('offset must be >= 0', { extensions: { code: ErrorCode.INVALID_ARGUMENT } });
        if (count < 0 || count > MAX_FRAMES_PAGE) {
          throw new GraphQLError(`limit must be between 0 and ${MAX_FRAMES_PAGE}`, {
            extensions: { code: ErrorCode.INVALID_ARGUMENT },
          });
        }
        return c.frames.slice(from, from + count);
      },
    }),
    frame: t.field({
      type: Frame,
      nullable: true,
      description: 'The frame at `index`, or null if there is none.',
      args: { index: t.arg.int({ required: true, description: '0-based frame index.' }) },
      resolve: (c, { index }) => frameAtIndex(c, index),
    }),
    zipUrl: t.string({
      description: 'Signed, expiring gateway URL of a zip with every frame.',
      resolve: (c, _args, ctx) => ownedMediaUrl(ctx, 'collection', c.id),
    }),
    sprite: t.field({
      type: FrameSprite,
      description:
        'Every frame as tiles of one image (contact sheet, scrub-bar thumbnails), made from the one zip download. ' +
        `Bounds (else INVALID_ARGUMENT): columns 1-${LIMITS.spriteMaxColumns}, tileWidth ` +
        `${LIMITS.spriteTileWidthMin}-${LIMITS.spriteTileWidthMax}, columns × tileWidth and rows × tileWidth at most ` +
        `${LIMITS.spriteMaxSide}, frameCount × tileWidth² at most ${LIMITS.spriteMaxTilePixels}.`,
      args: {
        columns: t.arg.int({ defaultValue: 10, description: `Tiles per row, 1-${LIMITS.spriteMaxColumns}.` }),
        tileWidth: t.arg.int({
          defaultValue: 160,
          description: `Tile width in pixels, ${LIMITS.spriteTileWidthMin}-${LIMITS.spriteTileWidthMax}.`,
        }),
        format: t.arg({ type: ImageFormat, defaultValue: 'jpeg', description: 'Encoding of the sprite image.' }),
      },
      resolve: (c, args) => ({
        collection: c,
        variant: checkedVariant(() =>
          spriteVariant({ columns: args.columns ?? 10, tileWidth: args.tileWidth ?? 160, format: args.format ?? 'jpeg' }, c.frames.length),
        ),
      }),
    }),
    preview: t.string({
      description:
        'Signed, expiring URL of an animated flip-book of every frame (looping), made from the one zip download and ' +
        'then cached. Page height follows the frames\' aspect ratio. Bounds (else INVALID_ARGUMENT): fps ' +
        `${LIMITS.previewFpsMin}-${LIMITS.previewFpsMax}, width ${LIMITS.previewWidthMin}-${LIMITS.previewWidthMax}, ` +
        `frameCount × width² at most ${LIMITS.previewMaxPixels}.`,
      args: {
        fps: t.arg.float({ defaultValue: 4, description: `Frames per second, ${LIMITS.previewFpsMin}-${LIMITS.previewFpsMax}.` }),
        width: t.arg.int({
          defaultValue: 320,
          description: `Width in pixels, ${LIMITS.previewWidthMin}-${LIMITS.previewWidthMax}.`,
        }),
        format: t.arg({ type: PreviewFormat, defaultValue: 'webp', description: 'Animated WebP or GIF.' }),
      },
      resolve: (c, args, ctx) =>
        ownedMediaUrl(
          ctx,
          'collection',
          c.id,
          checkedVariant(() =>
            previewVariant({ fps: args.fps ?? 4, width: args.width ?? 320, format: args.format ?? 'webp' }, c.frames.length),
          ),
        ),
    }),
  }),
});

builder.asEntity(FrameCollection, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => resolveEntity(ctx, 'collection', COLLECTION_ID_PATTERN, ref.id, (id) => ctx.loaders.collection.load(id)),
});

builder.queryField('frameCollection', (t) =>
  t.field({
    type: FrameCollection,
    nullable: true,
    description: 'A frame collection by id (im_<digits>), or null if it does not exist (or belongs to another tenant).',
    args: { id: t.arg.id({ required: true, description: 'Collection id.' }) },
    resolve: (_root, { id }, ctx) => lookupById(ctx, 'collection', COLLECTION_ID_PATTERN, String(id), (i) => ctx.loaders.collection.load(i)),
  }),
);

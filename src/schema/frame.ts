import type { FrameData } from '../loaders/index.js';
import { FRAME_ID_PATTERN } from '../upstream/types.js';
import { builder } from './builder.js';
import { lookupById, ownedMediaUrl, resolveEntity } from './lookup.js';
import { toQueryError } from './errors.js';
import { FrameCollection } from './frame-collection.js';
import { checkedVariant, ImageFit, ImageFormat } from './image-enums.js';
import { renditionVariant, LIMITS } from '../media/variants.js';

const CONTENT_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  bmp: 'image/bmp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
};

export function contentTypeFor(extension: string | null): string | null {
  return extension ? (CONTENT_TYPES[extension.toLowerCase().replace(/^\./, '')] ?? null) : null;
}

export const Frame = builder.objectRef<FrameData>('Frame');

Frame.implement({
  description: 'One extracted frame (an image) of a FrameCollection.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The frame id, imc_<collection digits>_<index>.' }),
    index: t.exposeInt('index', { description: '0-based position in the collection, parsed from the id.' }),
    collection: t.field({
      type: FrameCollection,
      description: 'The collection this frame belongs to.',
      resolve: async (frame, _args, ctx) => {
        const collection = await ctx.loaders.collection.load(frame.collectionId).catch((e: unknown) => {
          throw toQueryError(e);
        });
        // A frame only exists as part of a loaded collection, so this holds; stay total anyway.
        return collection ?? { id: frame.collectionId, frames: [frame], total: 1 };
      },
    }),
    extension: t.exposeString('extension', { nullable: true, description: 'Image file extension as reported upstream (e.g. "jpg").' }),
    contentType: t.string({
      nullable: true,
      description: 'MIME type derived from the extension (e.g. "image/jpeg").',
      resolve: (frame) => contentTypeFor(frame.extension),
    }),
    createdAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the upstream created the frame.',
      resolve: (frame) => frame.createdAt,
    }),
    fileSize: t.float({
      nullable: true,
      description: 'Size in bytes, when reported.',
      resolve: (frame) => (frame.fileSize === null ? null : Number(frame.fileSize)),
    }),
    url: t.string({
      description:
        'Signed, expiring gateway URL of the image (safe to put in an <img src>; the API key never leaves the server). ' +
        'With arguments, a rendition made from the original once and then cached: ' +
        `width / height 1-${LIMITS.renditionMaxSide} (one of them keeps the aspect ratio), quality ` +
        `${LIMITS.qualityMin}-${LIMITS.qualityMax}; anything else is an INVALID_ARGUMENT error. No arguments: the original. ` +
        'The same arguments always give the same URL (within one expiry window), so browsers and CDNs cache it.',
      args: {
        width: t.arg.int({ description: `Width in pixels, 1-${LIMITS.renditionMaxSide}.` }),
        height: t.arg.int({ description: `Height in pixels, 1-${LIMITS.renditionMaxSide}.` }),
        fit: t.arg({ type: ImageFit, defaultValue: 'cover', description: 'How to fill width × height when both are given.' }),
        format: t.arg({ type: ImageFormat, defaultValue: 'original', description: 'Encoding of the rendition.' }),
        quality: t.arg.int({ description: `Encoder quality ${LIMITS.qualityMin}-${LIMITS.qualityMax} (default: the format's).` }),
      },
      resolve: (frame, args, ctx) =>
        ownedMediaUrl(ctx, 'frame', frame.id, checkedVariant(() => renditionVariant(args))),
    }),
  }),
});

builder.asEntity(Frame, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => resolveEntity(ctx, 'frame', FRAME_ID_PATTERN, ref.id, (id) => ctx.loaders.frame.load(id)),
});

builder.queryField('frame', (t) =>
  t.field({
    type: Frame,
    nullable: true,
    description: 'A frame by id (imc_<digits>_<index>), or null if it does not exist (or belongs to another tenant).',
    args: { id: t.arg.id({ required: true, description: 'Frame id.' }) },
    resolve: (_root, { id }, ctx) => lookupById(ctx, 'frame', FRAME_ID_PATTERN, String(id), (i) => ctx.loaders.frame.load(i)),
  }),
);

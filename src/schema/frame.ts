import type { FrameData } from '../loaders/index.js';
import { FRAME_ID_PATTERN } from '../upstream/types.js';
import { builder } from './builder.js';
import { lookupById, ownedMediaUrl, resolveEntity } from './lookup.js';
import { toQueryError } from './errors.js';
import { FrameCollection } from './frame-collection.js';

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
      description: 'Signed, expiring gateway URL of the image (safe to put in an <img src>; the API key never leaves the server).',
      resolve: (frame, _args, ctx) => ownedMediaUrl(ctx, 'frame', frame.id),
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

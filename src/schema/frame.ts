import type { FrameData } from '../loaders/index.js';
import { FRAME_ID_PATTERN } from '../upstream/types.js';
import { builder } from './builder.js';
import { AssetNotFoundError, invalidIdError, toQueryError } from './errors.js';
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
      resolve: (frame, _args, ctx) => ctx.mediaUrl(frame.id),
    }),
  }),
});

builder.asEntity(Frame, {
  key: builder.selection<{ id: string }>('id'),
  // Async on purpose: @apollo/subgraph maps representations synchronously, so a synchronous throw would fail the
  // whole `_entities` batch; a rejection nulls only this entry, with its error at `_entities.N`. Unknown ids
  // reject too: a bare null makes the router fail the entity's non-null fields with a masked "Unexpected error".
  resolveReference: async (ref, ctx) => {
    if (!FRAME_ID_PATTERN.test(ref.id)) throw invalidIdError('frame', ref.id);
    const frame = await ctx.loaders.frame.load(ref.id).catch((e: unknown) => Promise.reject(toQueryError(e)));
    if (frame) return frame;
    throw toQueryError(new AssetNotFoundError(ref.id));
  },
});

builder.queryField('frame', (t) =>
  t.field({
    type: Frame,
    nullable: true,
    description: 'A frame by id (imc_<digits>_<index>), or null if it does not exist.',
    args: { id: t.arg.id({ required: true, description: 'Frame id.' }) },
    resolve: async (_root, { id }, ctx) => {
      const frameId = String(id);
      if (!FRAME_ID_PATTERN.test(frameId)) throw invalidIdError('frame', frameId);
      return ctx.loaders.frame.load(frameId).catch((e: unknown) => {
        throw toQueryError(e);
      });
    },
  }),
);

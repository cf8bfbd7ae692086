/**
 * FrameSprite: a contact sheet / scrub-bar image of every frame of a collection, with where each tile is. Made from
 * the collection's one zip download (src/media/sprite.ts). The layout needs the frames' pixel size, which the
 * upstream metadata does not carry: `tileHeight` and the tiles' `y` read it from the first frame's cached original,
 * so the first sprite query of a collection pays its one zip download (which the sprite image then reuses) and
 * every later query or image request pays nothing upstream. `url`, `columns`, `rows`, `tileWidth` and the tiles'
 * `index` and `x` never need it.
 */
import type { Context } from '../context.js';
import type { CollectionData } from '../loaders/index.js';
import { spriteLayout, type SpriteVariant } from '../media/variants.js';
import { builder } from './builder.js';
import { toQueryError } from './errors.js';
import { ownedMediaUrl } from './lookup.js';

/** What a FrameSprite resolves from: the collection and its canonical sprite parameters. */
export interface SpriteData {
  collection: CollectionData;
  variant: SpriteVariant;
}

interface TileData {
  sprite: SpriteData;
  index: number;
  position: number;
}

async function tileHeightOf(sprite: SpriteData, ctx: Context): Promise<number> {
  const first = sprite.collection.frames[0];
  if (!first) return 0;
  const size = await ctx.mediaFrameSize(first.id).catch((error: unknown) => {
    throw toQueryError(error);
  });
  return spriteLayout(sprite.variant, sprite.collection.frames.length, size).tileHeight;
}

export const FrameSpriteTile = builder.objectRef<TileData>('FrameSpriteTile').implement({
  description: 'Where one frame sits in a sprite.',
  fields: (t) => ({
    index: t.int({ description: 'The frame index (Frame.index).', resolve: (tile) => tile.index }),
    x: t.int({
      description: "Left edge of the tile in the sprite, in pixels (CSS: background-position: -x px -y px).",
      resolve: (tile) => (tile.position % tile.sprite.variant.columns) * tile.sprite.variant.tileWidth,
    }),
    y: t.int({
      description: 'Top edge of the tile in the sprite, in pixels.',
      resolve: async (tile, _args, ctx) =>
        Math.floor(tile.position / tile.sprite.variant.columns) * (await tileHeightOf(tile.sprite, ctx)),
    }),
  }),
});

export const FrameSprite = builder.objectRef<SpriteData>('FrameSprite').implement({
  description:
    'One image with every frame of a collection as tiles, row by row in index order: a contact sheet, or the ' +
    'thumbnails of a video scrub bar (show tile k with background-position).',
  fields: (t) => ({
    url: t.string({
      description: 'Signed, expiring URL of the sprite image (made once, then cached like the frames).',
      resolve: (s, _args, ctx) => ownedMediaUrl(ctx, 'collection', s.collection.id, s.variant),
    }),
    columns: t.int({
      description: 'Tiles per row (the requested columns, or the frame count when smaller).',
      resolve: (s) => s.variant.columns,
    }),
    rows: t.int({ description: 'Rows of tiles: ceil(frames / columns).', resolve: (s) => Math.ceil(s.collection.frames.length / s.variant.columns) }),
    tileWidth: t.int({ description: 'Tile width in pixels.', resolve: (s) => s.variant.tileWidth }),
    tileHeight: t.int({
      description:
        "Tile height in pixels: tileWidth × the frames' height / width (at most 2 × tileWidth). Read from the first " +
        "frame's cached original: the first query of a collection may wait for its one zip download.",
      resolve: (s, _args, ctx) => tileHeightOf(s, ctx),
    }),
    tiles: t.field({
      type: [FrameSpriteTile],
      description: 'Every tile, in frame-index order.',
      resolve: (s) => s.collection.frames.map((frame, position) => ({ sprite: s, index: frame.index, position })),
    }),
  }),
});

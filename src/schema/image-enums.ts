/**
 * Enums of the image variants: how a rendition fits its box, which format it is encoded in, and the formats of an
 * animated preview. Values map to the media layer's lower-case names (src/media/variants.ts).
 */
import { GraphQLError } from 'graphql';
import {
  VariantArgumentError,
  type ImageFit as Fit,
  type ImageFormat as Format,
  type PreviewFormat as Preview,
} from '../media/variants.js';
import { builder } from './builder.js';
import { ErrorCode } from './error-codes.js';

/** Runs a variant constructor of media/variants.ts; a rejected argument becomes an INVALID_ARGUMENT field error. */
export function checkedVariant<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof VariantArgumentError) {
      throw new GraphQLError(error.message, { extensions: { code: ErrorCode.INVALID_ARGUMENT } });
    }
    throw error;
  }
}

export const ImageFit = builder.enumType('ImageFit', {
  description: 'How a rendition with both width and height fills that box (with one dimension the frame is just scaled).',
  values: {
    COVER: { value: 'cover' as Fit, description: 'Fill the box exactly, cropping the centre (CSS object-fit: cover).' },
    CONTAIN: { value: 'contain' as Fit, description: 'Fit the whole frame inside the box and pad the rest (transparent, black in JPEG).' },
    INSIDE: { value: 'inside' as Fit, description: 'Fit the whole frame inside the box; the image is as large as fits, no padding.' },
  } as const,
});

export const ImageFormat = builder.enumType('ImageFormat', {
  description: 'Encoding of a rendition or sprite.',
  values: {
    ORIGINAL: { value: 'original' as Format, description: "The frame's own format (JPEG for upstream frames)." },
    JPEG: { value: 'jpeg' as Format, description: 'JPEG (default quality 80).' },
    WEBP: { value: 'webp' as Format, description: 'WebP (default quality 80); every current browser.' },
    AVIF: { value: 'avif' as Format, description: 'AVIF (default quality 50): smallest, slowest to make the first time.' },
    PNG: { value: 'png' as Format, description: 'PNG, lossless (quality is ignored).' },
  } as const,
});

export const PreviewFormat = builder.enumType('PreviewFormat', {
  description: 'Encoding of an animated preview.',
  values: {
    WEBP: { value: 'webp' as Preview, description: 'Animated WebP: smaller, full colour.' },
    GIF: { value: 'gif' as Preview, description: 'Animated GIF: plays everywhere; 256 colours, delays in 10 ms steps.' },
  } as const,
});

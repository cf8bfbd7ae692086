/**
 * Shapes shared by the media service and the HTTP handler.
 */
import type { CacheEntry } from './disk-cache.js';

/** Minimal structured logger; every method is optional so any logger (or none) fits. */
export interface MediaLogger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

/** What to send for a media request: a cached file (Range/ETag capable) or an upstream body streamed through. */
export type MediaBody =
  | { kind: 'file'; entry: CacheEntry }
  | {
      kind: 'stream';
      /** Must be consumed or cancelled by the receiver. */
      body: ReadableStream<Uint8Array>;
      contentType: string;
      contentLength: number | null;
      /** Upstream `Content-Disposition`, as received (the handler sanitises it). */
      contentDisposition: string | null;
    };

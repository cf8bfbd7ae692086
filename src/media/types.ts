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

/** Headers of a media response known without its bytes (a HEAD answered from upstream metadata). */
export interface MediaHeaders {
  contentType: string;
  contentLength: number | null;
  /** Sent as is: built by the gateway, already safe. */
  contentDisposition: string;
  /** Whether the GET would honour a Range (it serves the file from the cache). */
  acceptRanges: boolean;
}

/**
 * What to send for a media request: a cached file (Range/ETag capable), an upstream body streamed through, or (HEAD
 * only) the headers a GET would send, derived without downloading anything.
 */
export type MediaBody =
  | { kind: 'file'; entry: CacheEntry }
  | ({ kind: 'headers' } & MediaHeaders)
  | {
      kind: 'stream';
      /** Must be consumed or cancelled by the receiver. */
      body: ReadableStream<Uint8Array>;
      contentType: string;
      contentLength: number | null;
      /** Upstream `Content-Disposition`, as received (the handler sanitises it). */
      contentDisposition: string | null;
    };

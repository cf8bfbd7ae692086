/**
 * Public option/handle types of the embedded engine and the records it keeps in its index.
 * The engine is a separate service: nothing here is shared with the rest of `src/`.
 */

/** Minimal structured logger; `extra` is a plain object of fields. */
export interface EngineLogger {
  info(msg: string, extra?: object): void;
  warn(msg: string, extra?: object): void;
  error(msg: string, extra?: object): void;
}

/** Options of {@link createEngine}. Only `apiKey` and `dataDir` are required. */
export interface EngineOptions {
  /** The raw key clients send as `Authorization: <apiKey>` (no `Bearer`). */
  apiKey: string;
  /** TCP port; 0 (the default) picks a random free port. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Directory for files and the JSON index; reused across restarts. */
  dataDir: string;
  /** Account webhook that receives every task result; can be changed later with `setWebhookUrl`. */
  webhookUrl?: string;
  /** Frames are taken at t = 0, I, 2I, ... < duration. Default 1. */
  frameIntervalSeconds?: number;
  /** Cap on frames per extraction. Default 100. */
  maxFrames?: number;
  /** Extractions running at once; the rest wait in a FIFO queue. Default 1. */
  concurrency?: number;
  /** Largest accepted upload (file part bytes). Default 500 MiB. */
  maxUploadBytes?: number;
  /** Requests per second for the whole account; 0/undefined = unlimited. */
  rps?: number;
  /** ffmpeg binary; else env FFMPEG_PATH, else `@ffmpeg-installer/ffmpeg`. */
  ffmpegPath?: string;
  /** ffprobe binary; else env FFPROBE_PATH, else `@ffprobe-installer/ffprobe`. */
  ffprobePath?: string;
  /** Webhook delivery retries on non-2xx or network error. Default 5 attempts, 500 ms doubling. */
  callbackRetry?: { attempts: number; baseDelayMs: number };
  /** Wall-clock limit of one ffmpeg extraction; the process is killed after it. Default 15 min. */
  extractionTimeoutMs?: number;
  /** Where log lines go; default writes to the console. */
  logger?: EngineLogger;
  /**
   * Base URL the signed upload URLs of `POST /upload/signed-url` are built on, as browsers reach the engine (or a
   * proxy in front of its `/upload/signed/` path). Default: the engine's own `url`. Can be changed with `setPublicUrl`.
   */
  publicUrl?: string;
  /** `expires_in` of signed upload URLs, in seconds. Default 93600 (26 h, as the real API). 0 only makes sense in tests. */
  signedUploadTtlSeconds?: number;
  /** HMAC key of signed upload URLs. Default: derived from `apiKey` (so URLs survive a restart). */
  uploadSigningSecret?: string;
}

/** A running engine. */
export interface Engine {
  /** Root URL of the REST API, e.g. `http://127.0.0.1:4001` (no trailing slash). */
  url: string;
  /** Sets (or clears) the account webhook used for every later delivery attempt. */
  setWebhookUrl(url: string | undefined): void;
  /** Sets the base of later signed upload URLs (undefined: back to `url`). */
  setPublicUrl(url: string | undefined): void;
  /** Closes the server and connections, drops queued tasks, kills ffmpeg/ffprobe children, flushes the index. */
  stop(): Promise<void>;
  /** Resolves when no extraction, probe or callback delivery is queued or running. */
  idle(): Promise<void>;
}

/** Upload states of the v2 contract. */
export type UploadStatus = 'WAITING' | 'UPLOADING' | 'SUCCESS' | 'FAILED';

/** What ffprobe found in an upload. */
export type MediaKind = 'video' | 'audio' | 'image';

/** An uploaded `re_` asset. */
export interface AssetRecord {
  id: string;
  originalFilename: string;
  /** Lowercase, without the dot; may be '' when unknown. */
  extension: string;
  contentType: string;
  fileSize: number;
  status: UploadStatus;
  kind: MediaKind | null;
  durationSeconds: number | null;
  /** Path of the stored bytes, relative to dataDir. */
  file: string;
  createTime: number;
  modifyTime: number;
  failureReason?: string;
  /** Made by `POST /upload/signed-url` and its file not received yet (no file on disk): WAITING until it is. */
  awaitingUpload?: { expiresAt: number };
}

/** One stored frame of a collection. */
export interface FrameRecord {
  index: number;
  /** Path relative to dataDir. */
  file: string;
  size: number;
}

/** An `im_` image collection made by one extraction. */
export interface CollectionRecord {
  id: string;
  sourceAssetId: string;
  taskId: string;
  frames: FrameRecord[];
  createTime: number;
  modifyTime: number;
}

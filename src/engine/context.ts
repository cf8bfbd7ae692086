/** Everything a request handler or background task of one engine instance needs. */
import type { CallbackSender } from './callbacks.js';
import type { MediaTools, ProcessRunner } from './processes.js';
import type { TaskQueue } from './queue.js';
import type { EngineStore } from './store.js';
import type { EngineLogger } from './types.js';

/** Resolved numeric settings (defaults applied, validated). */
export interface EngineSettings {
  frameIntervalSeconds: number;
  maxFrames: number;
  concurrency: number;
  maxUploadBytes: number;
  extractionTimeoutMs: number;
  probeTimeoutMs: number;
}

/** Signed upload URLs (`POST /upload/signed-url` hands them out, `/upload/signed/<id>` receives the file). */
export interface SignedUploads {
  /** HMAC key of the URLs. */
  key: Buffer;
  ttlSeconds: number;
  /** Base URL the URLs are built on (how browsers reach the engine). */
  publicUrl(): string;
  /** Assets whose file is being received right now (a second request meanwhile is refused). */
  receiving: Set<string>;
}

/** Per-instance dependencies shared by handlers and tasks. */
export interface EngineContext {
  settings: EngineSettings;
  store: EngineStore;
  runner: ProcessRunner;
  tools: MediaTools;
  logger: EngineLogger;
  callbacks: CallbackSender;
  /** Extractions: bounded by `concurrency`. */
  extractions: TaskQueue;
  /** Upload probes (small, bounded). */
  probes: TaskQueue;
  /** Webhook deliveries, tracked so idle()/stop() can wait for them without holding an extraction slot. */
  deliveries: TaskQueue;
  isStopping(): boolean;
  signedUploads: SignedUploads;
}

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
}

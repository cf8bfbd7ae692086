/**
 * Environment configuration of the standalone engine (`npm run engine`). The only reader of `process.env`
 * for engine settings; every bad variable is reported in one error.
 */
import { z } from 'zod';

/** Settings read from the environment; pass straight to `createEngine` (with a logger if wanted). */
export interface EngineConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly apiKey: string;
  readonly webhookUrl: string | undefined;
  /** Base of signed upload URLs, as browsers reach the engine (embedded mode uses the gateway's URL instead). */
  readonly publicUrl: string | undefined;
  readonly frameIntervalSeconds: number;
  readonly maxFrames: number;
  readonly concurrency: number;
  readonly maxUploadBytes: number;
  readonly rps: number;
  readonly ffmpegPath: string | undefined;
  readonly ffprobePath: string | undefined;
}

/** The key used when ENGINE_API_KEY is unset (a local stand-in, not a secret). */
export const DEFAULT_ENGINE_API_KEY = 'local-engine-key';

/** Every problem in the environment, one per line in `message`, also listed in `issues`. */
export class EngineConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid engine configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'EngineConfigError';
  }
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

const schema = z.object({
  ENGINE_PORT: int(0, 65535).default(4001),
  ENGINE_HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  ENGINE_API_KEY: z.string().min(1).default(DEFAULT_ENGINE_API_KEY),
  ENGINE_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  ENGINE_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  ENGINE_FRAME_INTERVAL_SECONDS: z.coerce.number().positive().max(86_400).default(1),
  ENGINE_MAX_FRAMES: int(1, 100_000).default(100),
  ENGINE_CONCURRENCY: int(1, 64).default(1),
  ENGINE_MAX_UPLOAD_BYTES: int(1).default(524_288_000),
  ENGINE_RPS: z.coerce.number().min(0).default(0),
  FFMPEG_PATH: z.string().min(1).optional(),
  FFPROBE_PATH: z.string().min(1).optional(),
});

/** Parses the engine's variables from `env` (default `process.env`); empty strings count as unset. */
export function loadEngineConfig(env: NodeJS.ProcessEnv = process.env): EngineConfig {
  const input = Object.fromEntries(
    Object.keys(schema.shape)
      .map((key) => [key, env[key]?.trim()] as const)
      .filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new EngineConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const e = parsed.data;
  return Object.freeze({
    port: e.ENGINE_PORT,
    host: e.ENGINE_HOST,
    dataDir: e.DATA_DIR,
    apiKey: e.ENGINE_API_KEY,
    webhookUrl: e.ENGINE_WEBHOOK_URL,
    publicUrl: e.ENGINE_PUBLIC_URL,
    frameIntervalSeconds: e.ENGINE_FRAME_INTERVAL_SECONDS,
    maxFrames: e.ENGINE_MAX_FRAMES,
    concurrency: e.ENGINE_CONCURRENCY,
    maxUploadBytes: e.ENGINE_MAX_UPLOAD_BYTES,
    rps: e.ENGINE_RPS,
    ffmpegPath: e.FFMPEG_PATH,
    ffprobePath: e.FFPROBE_PATH,
  });
}

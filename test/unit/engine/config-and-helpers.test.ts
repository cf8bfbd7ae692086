import { describe, expect, it } from 'vitest';
import { EngineConfigError, loadEngineConfig } from '../../../src/engine/config.js';
import { expectedFrameCount } from '../../../src/engine/frames.js';
import { contentDisposition } from '../../../src/engine/http-util.js';
import { frameId, newAssetLikeId, newTaskId, parseId } from '../../../src/engine/ids.js';
import { extensionOf } from '../../../src/engine/mime.js';
import { createTaskQueue } from '../../../src/engine/queue.js';
import { createRateLimiter } from '../../../src/engine/rate-limit.js';

describe('engine ids', () => {
  it('makes v2-shaped ids and parses them back', () => {
    const id = newAssetLikeId('im_', () => false);
    expect(id).toMatch(/^im_[1-9]\d{17}$/);
    expect(newTaskId()).toMatch(/^[0-9a-f]{32}$/);
    expect(frameId(id, 3)).toBe(`imc_${id.slice(3)}_3`);
    expect(parseId(frameId(id, 3))).toEqual({ kind: 'frame', id: frameId(id, 3), collectionId: id, index: 3 });
    expect(parseId('re_123456789012345678').kind).toBe('asset');
    expect(parseId('re_12').kind).toBe('unknown');
  });

  it('skips ids that are taken', () => {
    let calls = 0;
    expect(newAssetLikeId('re_', () => ++calls < 3)).toMatch(/^re_\d{18}$/);
    expect(calls).toBe(3);
  });
});

describe('engine helpers', () => {
  it('counts expected frames as ceil(duration / interval), capped', () => {
    expect(expectedFrameCount(4, 1, 100)).toBe(4);
    expect(expectedFrameCount(4.04, 1, 100)).toBe(5);
    expect(expectedFrameCount(4, 0.5, 100)).toBe(8);
    expect(expectedFrameCount(4, 1, 3)).toBe(3);
    expect(expectedFrameCount(null, 1, 3)).toBeNull();
  });

  it('builds safe Content-Disposition values', () => {
    expect(contentDisposition('clip.mp4')).toBe('attachment; filename="clip.mp4"');
    expect(contentDisposition('vidéo "1".mp4')).toBe(`attachment; filename="vid_o _1_.mp4"; filename*=UTF-8''vid%C3%A9o%20%221%22.mp4`);
  });

  it('takes extensions from file names', () => {
    expect(extensionOf('a.MP4')).toBe('mp4');
    expect(extensionOf('3')).toBe('');
    expect(extensionOf('.hidden')).toBe('');
    expect(extensionOf('x.tar.gz')).toBe('gz');
  });

  it('rate-limits with a token bucket of rps tokens per second', () => {
    let now = 0;
    const limiter = createRateLimiter(2, () => now);
    expect([limiter.tryTake(), limiter.tryTake(), limiter.tryTake()]).toEqual([true, true, false]);
    now += 500;
    expect([limiter.tryTake(), limiter.tryTake()]).toEqual([true, false]);
    expect(createRateLimiter(0).tryTake()).toBe(true);
  });
});

describe('createTaskQueue', () => {
  it('runs at most `concurrency` tasks and resolves idle() when drained', async () => {
    const queue = createTaskQueue(1);
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    queue.push(async () => {
      log.push('a:start');
      await gate;
      log.push('a:end');
    });
    queue.push(async () => {
      log.push('b');
    });
    expect(log).toEqual(['a:start']);
    expect([queue.running, queue.pending]).toEqual([1, 1]);
    const idle = queue.idle();
    release();
    await idle;
    expect(log).toEqual(['a:start', 'a:end', 'b']);
  });

  it('clear() drops tasks that have not started', async () => {
    const queue = createTaskQueue(1);
    let release!: () => void;
    queue.push(() => new Promise<void>((r) => (release = r)));
    queue.push(async () => {
      throw new Error('must not run');
    });
    expect(queue.clear()).toBe(1);
    release();
    await queue.idle();
  });
});

describe('loadEngineConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadEngineConfig({})).toEqual({
      port: 4001,
      host: '127.0.0.1',
      dataDir: './data',
      apiKey: 'local-engine-key',
      webhookUrl: undefined,
      publicUrl: undefined,
      frameIntervalSeconds: 1,
      maxFrames: 100,
      concurrency: 1,
      maxUploadBytes: 524_288_000,
      rps: 0,
      ffmpegPath: undefined,
      ffprobePath: undefined,
    });
  });

  it('reads every variable and lists every problem at once', () => {
    const config = loadEngineConfig({ ENGINE_PORT: '0', ENGINE_WEBHOOK_URL: 'http://127.0.0.1:9/hook', ENGINE_FRAME_INTERVAL_SECONDS: '0.5', ENGINE_RPS: '1', FFMPEG_PATH: '/bin/ffmpeg', ENGINE_PUBLIC_URL: 'https://uploads.example' });
    expect(config).toMatchObject({ port: 0, webhookUrl: 'http://127.0.0.1:9/hook', publicUrl: 'https://uploads.example', frameIntervalSeconds: 0.5, rps: 1, ffmpegPath: '/bin/ffmpeg' });
    expect(Object.isFrozen(config)).toBe(true);
    let error: unknown;
    try {
      loadEngineConfig({ ENGINE_PORT: 'x', ENGINE_MAX_FRAMES: '0', ENGINE_CONCURRENCY: '1.5', ENGINE_WEBHOOK_URL: 'not a url', ENGINE_PUBLIC_URL: 'ftp://x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EngineConfigError);
    expect((error as EngineConfigError).issues.map((i) => i.split(':')[0])).toEqual(['ENGINE_PORT', 'ENGINE_WEBHOOK_URL', 'ENGINE_PUBLIC_URL', 'ENGINE_MAX_FRAMES', 'ENGINE_CONCURRENCY']);
  });
});

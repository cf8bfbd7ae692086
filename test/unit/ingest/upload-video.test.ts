import { describe, expect, it, vi } from 'vitest';
import { SpoolError } from '../../../src/ingest/spool.js';
import { createUploadLimiter } from '../../../src/ingest/upload-limiter.js';
import { uploadVideoFile, type UploadedFile } from '../../../src/ingest/upload-video.js';
import type { UpstreamClient, UploadInput } from '../../../src/upstream/client.js';
import { UpstreamError } from '../../../src/upstream/errors.js';
import { createDeferred } from '../../helpers/deferred.js';
import { useScratchTmpdir } from '../../helpers/scratch-tmpdir.js';

const scratch = useScratchTmpdir();

/** Like yoga's File, except that reading it whole throws: the upload may only stream it. */
function streamOnlyFile(chunks: string[], name = 'clip.mp4', type = 'video/mp4'): UploadedFile & { stream: ReturnType<typeof vi.fn> } {
  const bytes = chunks.map((c) => new TextEncoder().encode(c));
  const refuse = () => {
    throw new Error('the whole file was read into memory');
  };
  return {
    name,
    type,
    size: bytes.reduce((n, b) => n + b.byteLength, 0),
    arrayBuffer: refuse,
    bytes: refuse,
    text: refuse,
    stream: vi.fn(
      () =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            for (const b of bytes) controller.enqueue(b);
            controller.close();
          },
        }),
    ),
  } as UploadedFile & { stream: ReturnType<typeof vi.fn> };
}

const clientWith = (upload: (input: UploadInput) => Promise<{ assetId: string }>) =>
  ({ upload: vi.fn(upload) }) as unknown as UpstreamClient & { upload: ReturnType<typeof vi.fn> };

describe('uploadVideoFile', () => {
  const uploads = createUploadLimiter({ concurrency: 4, maxWaitMs: 1000 });

  it('streams the file to a temp file and uploads it file-backed, never calling arrayBuffer()', async () => {
    let sent: { text: string; filename: string; contentType?: string; size: number; tempFiles: string[] } | undefined;
    const client = clientWith(async (input) => {
      const body = input.body as Blob;
      sent = { text: await body.text(), filename: input.filename, contentType: input.contentType, size: body.size, tempFiles: await scratch.entries() };
      return { assetId: 're_000000000000000001' };
    });
    expect(await uploadVideoFile(streamOnlyFile(['video-', 'bytes']), client, uploads)).toBe('re_000000000000000001');
    expect(sent).toEqual({ text: 'video-bytes', filename: 'clip.mp4', contentType: 'video/mp4', size: 11, tempFiles: [expect.stringMatching(/^frames-spool-/)] });
    expect(await scratch.entries()).toEqual([]);
  });

  it('falls back to a generic name and type', async () => {
    const client = clientWith(async () => ({ assetId: 're_000000000000000001' }));
    await uploadVideoFile(streamOnlyFile(['x'], '', ''), client, uploads);
    expect(client.upload).toHaveBeenCalledWith(expect.objectContaining({ filename: 'video', contentType: undefined }));
    expect((client.upload.mock.calls[0]![0] as UploadInput).body).toMatchObject({ type: 'application/octet-stream' });
  });

  it('removes the temp file when the upload fails, passing the error through', async () => {
    const refused = new UpstreamError('BAD_REQUEST', 'unsupported file');
    const client = clientWith(async (input) => {
      await (input.body as Blob).text();
      throw refused;
    });
    await expect(uploadVideoFile(streamOnlyFile(['video-bytes']), client, uploads)).rejects.toBe(refused);
    expect(await scratch.entries()).toEqual([]);
  });

  it('removes the temp file and uploads nothing when the file stream fails', async () => {
    const file = streamOnlyFile([]);
    file.stream.mockImplementation(
      () =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('half'));
            controller.error(new Error('client went away'));
          },
        }),
    );
    const client = clientWith(async () => ({ assetId: 're_000000000000000001' }));
    await expect(uploadVideoFile(file, client, uploads)).rejects.toBeInstanceOf(SpoolError);
    expect(client.upload).not.toHaveBeenCalled();
    expect(await scratch.entries()).toEqual([]);
  });

  it('waits for a slot before it reads the file', async () => {
    const one = createUploadLimiter({ concurrency: 1, maxWaitMs: 60_000 });
    const first = createDeferred<{ assetId: string }>();
    const firstArrived = createDeferred();
    const client = clientWith(async (input) => {
      if (input.filename === 'first.mp4') {
        firstArrived.resolve();
        return first.promise;
      }
      return { assetId: 're_000000000000000002' };
    });
    const a = uploadVideoFile(streamOnlyFile(['a'], 'first.mp4'), client, one);
    await firstArrived.promise;
    const secondFile = streamOnlyFile(['b'], 'second.mp4');
    const b = uploadVideoFile(secondFile, client, one);
    expect(one.pending).toBe(1);
    expect(secondFile.stream).not.toHaveBeenCalled();
    first.resolve({ assetId: 're_000000000000000001' });
    expect(await Promise.all([a, b])).toEqual(['re_000000000000000001', 're_000000000000000002']);
    expect(secondFile.stream).toHaveBeenCalledTimes(1);
    one.dispose();
  });
});

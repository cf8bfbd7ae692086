/**
 * Test fixtures for media: tiny distinct JPEG-like byte arrays, zips built with yazl, and an in-memory fake
 * UpstreamClient that records download and metadata calls. Imported by the media unit and integration tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yazl from 'yazl';
import type { UpstreamClient } from '../../../src/upstream/client.js';
import { UpstreamError } from '../../../src/upstream/errors.js';
import type { AssetMetadata, DownloadedFile, UploadStatus } from '../../../src/upstream/types.js';

/** A few bytes that start like a JPEG and are unique per `seed`. */
export function fakeJpeg(seed: string | number): Buffer {
  const soi = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
  return Buffer.concat([soi, Buffer.from(`frame:${seed}`), Buffer.from([0xff, 0xd9])]);
}

/** Builds a zip in memory (yazl accepts duplicate names, so ambiguous archives can be built too). */
export async function buildZip(entries: readonly { name: string; data: Buffer }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const { name, data } of entries) zip.addBuffer(data, name, { compress: data.length > 64 });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** `count` frames of collection `im_<digits>` named `imc_<digits>_<n>.jpg`, with their bytes. */
export function collectionFrames(digits: string, count: number): { id: string; data: Buffer }[] {
  return Array.from({ length: count }, (_, n) => ({ id: `imc_${digits}_${n}`, data: fakeJpeg(`${digits}/${n}`) }));
}

/** A temp directory and its removal. */
export async function makeTempDir(prefix = 'media-test-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface FakeAsset {
  data: Buffer;
  contentType: string;
  /** Announced Content-Length; default `data.length`, `null` = unknown (chunked). */
  contentLength?: number | null;
  contentDisposition?: string | null;
  /** `extension` of its metadata; default derived from `contentType`. */
  extension?: string;
  /** `upload_status` of its metadata; default SUCCESS. */
  uploadStatus?: UploadStatus;
}

export interface FakeUpstream extends UpstreamClient {
  /** Ids passed to `download`, in call order. */
  readonly downloads: string[];
  /** Ids passed to `getMetadata`, in call order. */
  readonly metadataCalls: string[];
  assets: Map<string, FakeAsset>;
  /** Download of these ids throws the given error. */
  failures: Map<string, UpstreamError>;
  /** When set, every download waits for it before answering. */
  gate: Promise<void> | null;
}

function bodyOf(data: Buffer): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      // Several chunks, so consumers really stream.
      for (let at = 0; at < data.length; at += 4096) controller.enqueue(data.subarray(at, at + 4096));
      controller.close();
    },
  });
}

const EXTENSIONS: Record<string, string> = { 'video/mp4': 'mp4', 'video/webm': 'webm', 'image/jpeg': 'jpg' };

/** `getMetadata` of a stored asset: what the upstream would list for it (size, extension, original name). */
function metadataOf(id: string, asset: FakeAsset): AssetMetadata {
  const filename = /filename="([^"]*)"/.exec(asset.contentDisposition ?? '')?.[1] ?? null;
  const resource = {
    assetId: id,
    extension: asset.extension ?? EXTENSIONS[asset.contentType] ?? null,
    originalFilename: filename,
    fileSize: String(asset.data.length),
    uploadStatus: asset.uploadStatus ?? 'SUCCESS',
    createTime: '1766989317192',
    modifyTime: '1766989317192',
  };
  return { total: 1, resources: [resource] };
}

/** In-memory UpstreamClient: `download` and `getMetadata`; unknown ids throw NOT_FOUND like the real client. */
export function createFakeUpstream(): FakeUpstream {
  const unsupported = () => Promise.reject(new Error('not used by media tests'));
  const notFound = (id: string) =>
    new UpstreamError('NOT_FOUND', `Asset not found: ${id}`, { status: 400, code: '400' });
  const fake: FakeUpstream = {
    downloads: [],
    metadataCalls: [],
    assets: new Map(),
    failures: new Map(),
    gate: null,
    async getMetadata(id) {
      fake.metadataCalls.push(id);
      const asset = fake.assets.get(id);
      if (!asset) throw notFound(id);
      return metadataOf(id, asset);
    },
    extractFrames: unsupported,
    upload: unsupported,
    createSignedUpload: unsupported,
    deleteAsset: unsupported,
    async download(id): Promise<DownloadedFile> {
      fake.downloads.push(id);
      if (fake.gate) await fake.gate;
      const failure = fake.failures.get(id);
      if (failure) throw failure;
      const asset = fake.assets.get(id);
      if (!asset) throw notFound(id);
      return {
        body: bodyOf(asset.data),
        contentType: asset.contentType,
        contentLength: asset.contentLength === undefined ? asset.data.length : asset.contentLength,
        contentDisposition: asset.contentDisposition ?? null,
      };
    },
  };
  return fake;
}

/** Registers collection `im_<digits>` (zip of `count` frames) and each frame on the fake upstream. */
export async function addCollection(
  upstream: FakeUpstream,
  digits: string,
  count: number,
  name: (frameId: string) => string = (id) => `${id}.jpg`,
): Promise<{ zip: Buffer; frames: { id: string; data: Buffer }[] }> {
  const frames = collectionFrames(digits, count);
  const zip = await buildZip(frames.map((f) => ({ name: name(f.id), data: f.data })));
  upstream.assets.set(`im_${digits}`, {
    data: zip,
    contentType: 'application/zip',
    contentDisposition: `attachment; filename="im_${digits}.zip"`,
  });
  for (const f of frames) upstream.assets.set(f.id, { data: f.data, contentType: 'image/jpeg' });
  return { zip, frames };
}

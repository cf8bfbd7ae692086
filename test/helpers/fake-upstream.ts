/**
 * A fake memories.ai v2 API on a real node:http server (port 0), following /work/shared/upstream-api.md quirks
 * included: raw-key auth, HTTP status == body code, "not found" is 400, 1 QPS per account across all endpoints,
 * callbacks use `message` + top-level `task_id`, metadata numbers are strings, `im_` listing order is not by
 * index, `im_` zips are sent chunked without Content-Length, download errors are JSON on the binary URL.
 * `POST /upload/signed-url` hands out a signed URL on a separate "storage" path of this server (`/_storage/…`, as the
 * real one points at storage.googleapis.com): a multipart POST with part `file`, no API key, valid 26 h, one file
 * per URL, and counted against the account's 1 QPS like every call (upstream-api.md §6b, §11).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { ZipFile } from 'yazl';
import {
  INTERNAL_ERROR_BODY,
  LIMIT_EXCEEDED_400_BODY,
  NOT_FOUND_BODY,
  TOO_MANY_REQUESTS_BODY,
  UNAUTHORIZED_BODY,
  errorEnvelope,
  failureCallback,
  successCallback,
  successEnvelope,
  type SuccessCode,
  type WireCallback,
  type WireResource,
} from '../fixtures/upstream/envelopes.js';
import { tinyJpeg } from '../fixtures/upstream/jpeg.js';
import { createDeferred, type Deferred } from './deferred.js';

export type UploadStatus = 'WAITING' | 'UPLOADING' | 'SUCCESS' | 'FAILED';

export interface FakeUpstreamOptions {
  /** Default `'sk-mavi-test'`. */
  apiKey?: string;
  /** Account limit in requests per sliding 1 s window, all endpoints together; 0 = unlimited. Default 1. */
  rps?: number;
  /** Success code generation: Gen B/C `200` (default) or Gen A `'0000'`. Errors always follow the v2 rule. */
  successCode?: SuccessCode;
  webhookUrl?: string;
  now?: () => number;
  /** Metadata reads of an uploaded asset that answer `WAITING` before it turns `SUCCESS`. Default 0. */
  uploadWaitingReads?: number;
  /** The JPEG bytes of frame `index` of a new collection (real pixels for image tests); default a 1x1 grey JPEG. */
  frameImage?: (index: number, frameId: string) => Buffer;
}

/** `expires_in` of `POST /upload/signed-url`, as documented (26 h). */
export const SIGNED_URL_EXPIRES_IN_SECONDS = 93_600;
/** Path prefix of the fake's signed upload targets (the real API points at a storage host instead). */
export const FAKE_STORAGE_PREFIX = '/_storage/upload/';

export interface RecordedCall {
  method: string;
  path: string;
  /** The asset the call was about (path id, extract `asset_id`, the id an upload or signed-url call created). */
  id?: string;
  /** HTTP status of the reply; 0 while the reply is still pending. */
  status: number;
  authorization: string | null;
  at: number;
}

export interface AddAssetInput {
  id?: string;
  extension?: string;
  filename?: string;
  fileSize?: number;
  uploadStatus?: UploadStatus;
  bytes?: Uint8Array;
}

export interface CompletedTask {
  collectionId: string;
  /** Frame ids in index order (the callback body may list them shuffled). */
  frameIds: string[];
  /** HTTP status the webhook answered; 0 = not delivered (no webhook set, or connection failed). */
  status: number;
  /** The callback body that was sent, e.g. to redeliver it with `sendCallback`. */
  body: WireCallback;
}

export interface FakeUpstream {
  url: string;
  calls: RecordedCall[];
  callsTo(method: string, pathPrefixOrRegex: string | RegExp): RecordedCall[];
  addAsset(asset?: AddAssetInput): string;
  completeTask(taskId: string, opts?: { frames?: number; shuffle?: boolean; code?: SuccessCode }): Promise<CompletedTask>;
  failTask(taskId: string, opts?: { code?: number | string; message?: string }): Promise<{ status: number; body: WireCallback }>;
  /** POSTs `body` (or `opts.raw` verbatim) to the webhook; resolves with its HTTP status (0 = connection failed). */
  sendCallback(body: unknown, opts?: { raw?: string; contentType?: string }): Promise<number>;
  addCollection(frames: number): { collectionId: string; frameIds: string[] };
  tasks: Map<string, { assetId: string; status: 'PENDING' | 'DONE' }>;
  /** Called when an extract was accepted; the reply is written only after a returned promise settles. */
  onExtract?: (taskId: string) => void | PromiseLike<unknown>;
  setWebhookUrl(url: string | undefined): void;
  /** Replace the next `count` replies (default 1) with `next`, before auth and rate limiting; `null` clears. */
  setFailure(next: { status: number; body: unknown } | null, count?: number): void;
  /**
   * The next successful download of `id` sends its headers and the first `afterBytes` bytes of the body (`null`: not
   * even the headers), then nothing more, keeping the connection open: a stalled upstream. `written` resolves once
   * those bytes are out, `closed` when the client has dropped the connection.
   */
  stallDownload(id: string, afterBytes: number | null): { written: Promise<void>; closed: Promise<void> };
  close(): Promise<void>;
}

interface StoredAsset {
  id: string;
  /** A signed-url asset whose file has not arrived: WAITING, no bytes, until its signed upload succeeds. */
  awaitingUpload?: { expiresAt: number };
  extension: string;
  filename: string;
  fileSize: number;
  status: UploadStatus;
  waitingReads: number;
  bytes: Buffer;
  createTime: number;
  modifyTime: number;
}

interface StoredFrame {
  id: string;
  bytes: Buffer;
  createTime: number;
}

type Reply =
  | { status: number; json: unknown }
  | { status: number; text: string }
  | { status: number; file: Buffer; contentType: string; filename: string }
  | { status: number; zip: StoredFrame[]; filename: string };

const VIDEO_TYPES: Record<string, string> = {
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  avi: 'video/x-msvideo',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  flv: 'video/x-flv',
  wmv: 'video/x-ms-wmv',
  mpeg: 'video/mpeg',
};
// An ISO-BMFF `ftyp` box: enough to look like an mp4 to anyone sniffing the bytes.
const FAKE_MP4 = Buffer.from('000000186674797069736f6d0000020069736f6d6d703431', 'hex');

export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const apiKey = options.apiKey ?? 'sk-mavi-test';
  const rps = options.rps ?? 1;
  const successCode = options.successCode ?? 200;
  const now = options.now ?? Date.now;
  let webhookUrl = options.webhookUrl;
  let failures: { status: number; body: unknown }[] = [];
  const stalls = new Map<string, { afterBytes: number | null; written: Deferred<void>; closed: Deferred<void> }>();
  const admitted: number[] = [];
  // Signs the storage URLs; a fresh key per fake, as the storage's own key is nothing the account ever sees.
  const storageKey = randomBytes(32);
  const assets = new Map<string, StoredAsset>();
  const collections = new Map<string, StoredFrame[]>();
  const frames = new Map<string, StoredFrame>();
  // 18-digit ids above 2^53, as upstream: only ever handled as BigInt / string.
  let nextDigits = 666914042514116608n;
  const newDigits = (): string => (nextDigits++).toString();

  const admit = (): boolean => {
    if (rps <= 0) return true;
    const t = now();
    while (admitted.length > 0 && admitted[0]! <= t - 1000) admitted.shift();
    if (admitted.length >= rps) return false;
    admitted.push(t);
    return true;
  };

  const addCollection = (count: number): { collectionId: string; frameIds: string[] } => {
    const digits = newDigits();
    const collectionId = `im_${digits}`;
    const list = Array.from({ length: count }, (_, n): StoredFrame => {
      const id = `imc_${digits}_${n}`;
      return { id, bytes: options.frameImage?.(n, id) ?? tinyJpeg(id), createTime: now() };
    });
    collections.set(collectionId, list);
    for (const frame of list) frames.set(frame.id, frame);
    return { collectionId, frameIds: list.map((f) => f.id) };
  };

  const addAsset = (input: AddAssetInput = {}, waitingReads = 0): string => {
    const id = input.id ?? `re_${newDigits()}`;
    const extension = input.extension ?? 'mp4';
    const bytes = Buffer.from(input.bytes ?? FAKE_MP4);
    const t = now();
    assets.set(id, {
      id,
      extension,
      filename: input.filename ?? `video.${extension}`,
      fileSize: input.fileSize ?? bytes.length,
      status: input.uploadStatus ?? (waitingReads > 0 ? 'WAITING' : 'SUCCESS'),
      waitingReads,
      bytes,
      createTime: t,
      modifyTime: t,
    });
    return id;
  };

  const ok = (data: unknown): Reply => ({ status: 200, json: successEnvelope(data, successCode) });
  const notFound: Reply = { status: 400, json: NOT_FOUND_BODY };

  const metadata = (id: string): Reply => {
    const asset = assets.get(id);
    if (asset) {
      const entry = resource(asset.id, asset.extension, asset.filename, asset.fileSize, asset.status, asset.createTime);
      const shown = { ...entry, modify_time: String(asset.modifyTime) };
      // Upload processing: the asset answers WAITING for `uploadWaitingReads` reads, then SUCCESS.
      if (asset.status === 'WAITING' && asset.waitingReads > 0 && --asset.waitingReads === 0) {
        asset.status = 'SUCCESS';
        asset.modifyTime = now();
      }
      return ok({ total: 1, resource: [shown] });
    }
    const list = collections.get(id);
    if (list) return ok({ total: list.length, resource: scrambled(list).map(frameResource) });
    const frame = frames.get(id);
    return frame ? ok({ total: 1, resource: [frameResource(frame)] }) : notFound;
  };

  const download = (id: string): Reply => {
    const asset = assets.get(id);
    if (asset?.awaitingUpload) return notFound;
    if (asset) {
      const contentType = VIDEO_TYPES[asset.extension.toLowerCase()] ?? 'application/octet-stream';
      return { status: 200, file: asset.bytes, contentType, filename: asset.filename };
    }
    const list = collections.get(id);
    if (list) return { status: 200, zip: scrambled(list), filename: `${id}.zip` };
    const frame = frames.get(id);
    return frame ? { status: 200, file: frame.bytes, contentType: 'image/jpeg', filename: `${id}.jpg` } : notFound;
  };

  const remove = (id: string): Reply => {
    if (assets.delete(id)) return ok(null);
    const list = collections.get(id);
    if (list) {
      collections.delete(id);
      for (const frame of list) frames.delete(frame.id);
      return ok(null);
    }
    const frame = frames.get(id);
    if (!frame) return notFound;
    frames.delete(id);
    for (const [collectionId, members] of collections) {
      collections.set(collectionId, members.filter((f) => f.id !== id));
    }
    return ok(null);
  };

  const extract = async (call: RecordedCall, body: Buffer): Promise<Reply> => {
    const assetId = parseJson(body)?.asset_id;
    if (typeof assetId !== 'string' || assetId === '') return { status: 400, json: errorEnvelope(400, 'asset_id is required') };
    call.id = assetId;
    const asset = assets.get(assetId);
    if (!asset) return notFound;
    // Undocumented preconditions (upstream-api.md #19): the fake rejects non-ready and non-video assets.
    if (asset.status !== 'SUCCESS') return { status: 400, json: errorEnvelope(400, 'Asset is not ready') };
    if (!(asset.extension.toLowerCase() in VIDEO_TYPES)) return { status: 400, json: errorEnvelope(400, 'Asset is not a video') };
    const taskId = randomBytes(16).toString('hex');
    fake.tasks.set(taskId, { assetId, status: 'PENDING' });
    call.status = 200;
    await fake.onExtract?.(taskId);
    return ok({ task_id: taskId });
  };

  const upload = async (call: RecordedCall, body: Buffer, contentType: string | undefined): Promise<Reply> => {
    const file = await parseUploadFile(body, contentType);
    // Quirk (upload page): validation failures answer the same 400 text as rate limiting.
    if (!file) return { status: 400, json: LIMIT_EXCEEDED_400_BODY };
    const dot = file.name.lastIndexOf('.');
    const extension = dot > 0 ? file.name.slice(dot + 1).toLowerCase() : 'mp4';
    const id = addAsset({ extension, filename: file.name, bytes: file.bytes }, options.uploadWaitingReads ?? 0);
    call.id = id;
    return ok({ asset_id: id });
  };

  const storageSignature = (assetId: string, expires: number): string =>
    createHmac('sha256', storageKey).update(`${assetId}\n${expires}`).digest('base64url');

  const signedUrl = (call: RecordedCall, body: Buffer): Reply => {
    const name = parseJson(body)?.original_filename;
    // Documented as required, "with extension".
    if (typeof name !== 'string' || name.trim() === '') return { status: 400, json: errorEnvelope(400, 'original_filename is required') };
    const dot = name.lastIndexOf('.');
    if (dot <= 0 || dot === name.length - 1) return { status: 400, json: errorEnvelope(400, 'original_filename must have an extension') };
    const extension = name.slice(dot + 1).toLowerCase();
    const id = addAsset({ extension, filename: name, fileSize: 0, uploadStatus: 'WAITING', bytes: new Uint8Array(0) });
    const expires = now() + SIGNED_URL_EXPIRES_IN_SECONDS * 1000;
    assets.get(id)!.awaitingUpload = { expiresAt: expires };
    call.id = id;
    const url = `${fake.url}${FAKE_STORAGE_PREFIX}${id}?expires=${expires}&signature=${storageSignature(id, expires)}`;
    return ok({ asset_id: id, signed_url: url, expires_in: SIGNED_URL_EXPIRES_IN_SECONDS });
  };

  /** `POST <signed_url>`: no key; the signature, expiry and single use are checked, then the account's rate limit. */
  const signedUpload = async (req: IncomingMessage, call: RecordedCall, body: Buffer): Promise<Reply> => {
    const target = new URL(req.url ?? '/', 'http://fake');
    const assetId = call.path.slice(FAKE_STORAGE_PREFIX.length);
    const expires = Number(target.searchParams.get('expires'));
    const given = Buffer.from(target.searchParams.get('signature') ?? '');
    const expected = Buffer.from(storageSignature(assetId, expires));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { status: 403, json: errorEnvelope(403, 'Invalid signature') };
    }
    if (now() >= expires) return { status: 403, json: errorEnvelope(403, 'Signed URL has expired') };
    call.id = assetId;
    const asset = assets.get(assetId);
    if (!asset) return notFound;
    if (!asset.awaitingUpload) return { status: 409, json: errorEnvelope(409, 'A file was already uploaded to this signed URL') };
    if (!admit()) return { status: 429, json: TOO_MANY_REQUESTS_BODY };
    const file = await parseUploadFile(body, req.headers['content-type']);
    if (!file) return { status: 400, json: errorEnvelope(400, 'Expected multipart/form-data with a "file" part') };
    if (file.bytes.length === 0) return { status: 400, json: errorEnvelope(400, 'File is empty') };
    delete asset.awaitingUpload;
    asset.bytes = file.bytes;
    asset.fileSize = file.bytes.length;
    asset.waitingReads = options.uploadWaitingReads ?? 0;
    asset.status = asset.waitingReads > 0 ? 'WAITING' : 'SUCCESS';
    asset.modifyTime = now();
    return ok({ asset_id: assetId });
  };

  const route = async (req: IncomingMessage, call: RecordedCall, body: Buffer): Promise<Reply> => {
    const injected = failures.shift();
    if (injected) {
      const { status, body: reply } = injected;
      return typeof reply === 'string' ? { status, text: reply } : { status, json: reply };
    }
    if (call.path.startsWith(FAKE_STORAGE_PREFIX)) {
      return call.method === 'POST' ? signedUpload(req, call, body) : { status: 405, json: errorEnvelope(405, 'Method Not Allowed') };
    }
    if (call.authorization !== apiKey) return { status: 401, json: UNAUTHORIZED_BODY };
    if (!admit()) return { status: 429, json: TOO_MANY_REQUESTS_BODY };

    let segments: string[];
    try {
      segments = call.path.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return { status: 400, json: errorEnvelope(400, 'Bad request') };
    }
    const [first, second, ...rest] = segments;
    const method = call.method;
    if (first === undefined || rest.length > 0) return { status: 404, json: errorEnvelope(404, 'Not Found') };
    if (second === undefined) {
      if (first === 'upload' && method === 'POST') return upload(call, body, req.headers['content-type']);
      if (method !== 'DELETE') return { status: 405, json: errorEnvelope(405, 'Method Not Allowed') };
      call.id = first;
      return remove(first);
    }
    if (first === 'upload' && second === 'signed-url') {
      return method === 'POST' ? signedUrl(call, body) : { status: 405, json: errorEnvelope(405, 'Method Not Allowed') };
    }
    if (first === 'video' && second === 'extract-frames') {
      return method === 'POST' ? extract(call, body) : { status: 405, json: errorEnvelope(405, 'Method Not Allowed') };
    }
    if (second !== 'metadata' && second !== 'download') return { status: 404, json: errorEnvelope(404, 'Not Found') };
    if (method !== 'GET') return { status: 405, json: errorEnvelope(405, 'Method Not Allowed') };
    call.id = first;
    return second === 'metadata' ? metadata(first) : download(first);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const call: RecordedCall = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: new URL(req.url ?? '/', 'http://fake').pathname,
      status: 0,
      authorization: req.headers.authorization ?? null,
      at: now(),
    };
    fake.calls.push(call);
    if (call.path.startsWith(FAKE_STORAGE_PREFIX)) {
      // Browsers upload straight to storage from another origin: CORS without credentials, preflight included.
      res.setHeader('Access-Control-Allow-Origin', '*');
      if (call.method === 'OPTIONS') {
        call.status = 204;
        res.writeHead(204, {
          'Access-Control-Allow-Methods': 'POST, OPTIONS',
          'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? 'content-type',
          'Access-Control-Max-Age': '600',
        });
        res.end();
        return;
      }
    }
    const body = await readBody(req);
    let reply: Reply;
    try {
      reply = await route(req, call, body);
    } catch {
      reply = { status: 500, json: INTERNAL_ERROR_BODY };
    }
    call.status = reply.status;
    const stalling = call.id !== undefined && call.path.endsWith('/download') && reply.status === 200;
    const stall = stalling ? stalls.get(call.id!) : undefined;
    if (stall === undefined) return send(res, reply);
    stalls.delete(call.id!);
    res.once('close', () => stall.closed.resolve());
    if (stall.afterBytes !== null) await sendPartial(res, reply, stall.afterBytes);
    stall.written.resolve();
  };

  const deliver = async (raw: string, contentType = 'application/json'): Promise<number> => {
    if (!webhookUrl) return 0;
    try {
      return await postRaw(webhookUrl, raw, contentType);
    } catch {
      return 0;
    }
  };

  const pendingTask = (taskId: string): { assetId: string; status: 'PENDING' | 'DONE' } => {
    const task = fake.tasks.get(taskId);
    if (!task) throw new Error(`fake upstream: unknown task ${taskId}`);
    if (task.status !== 'PENDING') throw new Error(`fake upstream: task ${taskId} already done; redeliver with sendCallback()`);
    return task;
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;

  const fake: FakeUpstream = {
    url: `http://127.0.0.1:${port}`,
    calls: [],
    callsTo: (method, match) =>
      fake.calls.filter(
        (c) => c.method === method.toUpperCase() && (typeof match === 'string' ? c.path.startsWith(match) : match.test(c.path)),
      ),
    addAsset: (input) => addAsset(input),
    async completeTask(taskId, opts = {}) {
      const task = pendingTask(taskId);
      task.status = 'DONE';
      const { collectionId, frameIds } = addCollection(opts.frames ?? 3);
      const listed = opts.shuffle ? scrambled(frameIds) : frameIds;
      const body = successCallback(taskId, collectionId, listed, opts.code ?? successCode);
      return { collectionId, frameIds, status: await deliver(JSON.stringify(body)), body };
    },
    async failTask(taskId, opts = {}) {
      pendingTask(taskId).status = 'DONE';
      const body = failureCallback(taskId, opts.code ?? 500, opts.message ?? 'FAILED');
      return { status: await deliver(JSON.stringify(body)), body };
    },
    async sendCallback(body, opts = {}) {
      if (!webhookUrl) throw new Error('fake upstream: no webhook URL set');
      return deliver(opts.raw ?? JSON.stringify(body), opts.contentType);
    },
    addCollection,
    tasks: new Map(),
    setWebhookUrl(url) {
      webhookUrl = url;
    },
    setFailure(next, count = 1) {
      failures = next ? Array.from({ length: count }, () => next) : [];
    },
    stallDownload(id, afterBytes) {
      const stall = { afterBytes, written: createDeferred(), closed: createDeferred() };
      stalls.set(id, stall);
      return { written: stall.written.promise, closed: stall.closed.promise };
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
  return fake;

  function resource(id: string, ext: string, name: string, size: number, status: UploadStatus, created: number): WireResource {
    const t = String(created);
    return {
      extension: ext,
      asset_id: id,
      original_filename: name,
      file_size: String(size),
      upload_status: status,
      create_time: t,
      modify_time: t,
    };
  }

  function frameResource(frame: StoredFrame): WireResource {
    return resource(frame.id, 'jpg', `${frame.id}.jpg`, frame.bytes.length, 'SUCCESS', frame.createTime);
  }
}

/** A random permutation that is never the identity (for 2+ items): order is "not promised", so never give it. */
function scrambled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out.length > 1 && out.every((item, i) => item === items[i]) ? out.reverse() : out;
}

function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function parseUploadFile(body: Buffer, contentType: string | undefined): Promise<{ name: string; bytes: Buffer } | null> {
  if (!contentType?.toLowerCase().startsWith('multipart/form-data')) return null;
  try {
    const form = await new Request('http://fake/upload', { method: 'POST', headers: { 'content-type': contentType }, body: Uint8Array.from(body) }).formData();
    const file = form.get('file');
    if (file === null || typeof file === 'string') return null;
    return { name: file.name || 'blob', bytes: Buffer.from(await file.arrayBuffer()) };
  } catch {
    return null;
  }
}

function send(res: ServerResponse, reply: Reply): void {
  if ('json' in reply || 'text' in reply) {
    const text = 'json' in reply ? JSON.stringify(reply.json) : reply.text;
    res.writeHead(reply.status, {
      'content-type': 'json' in reply ? 'application/json;charset=UTF-8' : 'text/plain;charset=UTF-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
    return;
  }
  const disposition = `attachment; filename="${reply.filename.replace(/[^\x20-\x7e]|["\\]/g, '_')}"`;
  if ('file' in reply) {
    res.writeHead(reply.status, {
      'content-type': reply.contentType,
      'content-disposition': disposition,
      'content-length': reply.file.length,
    });
    res.end(reply.file);
    return;
  }
  // Quirk (upstream-api.md #14): zips stream chunked, without Content-Length.
  res.writeHead(reply.status, { 'content-type': 'application/zip', 'content-disposition': disposition });
  zipOf(reply.zip).outputStream.pipe(res);
}

function zipOf(frames: readonly StoredFrame[]): ZipFile {
  const zip = new ZipFile();
  for (const frame of frames) zip.addBuffer(frame.bytes, `${frame.id}.jpg`, { compress: false });
  zip.end();
  return zip;
}

/** The headers `send` would write and the first `afterBytes` bytes of the body, and no end (a stalled download). */
async function sendPartial(res: ServerResponse, reply: Reply, afterBytes: number): Promise<void> {
  let bytes: Buffer;
  if ('zip' in reply) {
    const chunks: Buffer[] = [];
    for await (const chunk of zipOf(reply.zip).outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
    bytes = Buffer.concat(chunks);
    const disposition = `attachment; filename="${reply.filename}"`;
    res.writeHead(reply.status, { 'content-type': 'application/zip', 'content-disposition': disposition });
  } else if ('file' in reply) {
    bytes = reply.file;
    res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': reply.file.length });
  } else {
    throw new Error('fake upstream: only file and zip downloads can stall');
  }
  await new Promise<void>((resolve) => res.write(bytes.subarray(0, afterBytes), () => resolve()));
}

function postRaw(url: string, raw: string, contentType: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const transport = target.protocol === 'https:' ? https : http;
    // agent: false -> `Connection: close`, so the receiver can shut down without waiting on keep-alive sockets.
    const request = transport.request(
      target,
      { method: 'POST', agent: false, headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(raw) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(raw);
  });
}

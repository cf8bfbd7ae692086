import { describe, expect, it } from 'vitest';
import { isUpstreamError } from '../../../src/upstream/errors.js';
import { quoteBigIntegers } from '../../../src/upstream/json.js';
import {
  CALLBACK_FAILURE_FALLBACK_MESSAGE,
  frameIndexOf,
  parseExtractFramesCallback,
  parseExtractReply,
  parseJsonPreservingBigIds,
  parseMetadata,
  parseUploadReply,
} from '../../../src/upstream/types.js';
import * as callbacks from '../../fixtures/upstream/callbacks.js';
import * as replies from '../../fixtures/upstream/replies.js';

const TASK = '1e8ae1075e054e8abb58e7598c53cbf1';
const IM = 'im_666914042514116608';

describe('parseJsonPreservingBigIds', () => {
  it('keeps 18-digit numbers exact as strings', () => {
    const text = '{"total": 2, "resource":[{"asset_id":"imc_666914042514116608_1", "file_size": 123456789012345678}]}';
    expect(parseJsonPreservingBigIds(text)).toEqual({
      total: 2,
      resource: [{ asset_id: 'imc_666914042514116608_1', file_size: '123456789012345678' }],
    });
  });

  it('leaves small numbers, fractions, exponents and strings alone', () => {
    const text = '{"a":1234567890123456,"b":-12,"c":1.12345678901234567,"d":1e123456789012345678,"e":"99999999999999999999","f":[0,123456789012345]}';
    expect(parseJsonPreservingBigIds(text)).toEqual({
      a: '1234567890123456',
      b: -12,
      c: 1.12345678901234567,
      d: Infinity,
      e: '99999999999999999999',
      f: [0, 123456789012345],
    });
  });

  it('handles negatives, escaped quotes and nested arrays', () => {
    const text = '{"s":"a \\" 123456789012345678 \\\\","n":[-123456789012345678,[666914042514116608]]}';
    expect(parseJsonPreservingBigIds(text)).toEqual({
      s: 'a " 123456789012345678 \\',
      n: ['-123456789012345678', ['666914042514116608']],
    });
  });

  it('does not rewrite text without big numbers and still rejects invalid JSON', () => {
    const text = '{"code":200,"msg":"success"}';
    expect(quoteBigIntegers(text)).toBe(text);
    expect(() => parseJsonPreservingBigIds('{"asset_id":"im_6669')).toThrow(SyntaxError);
    expect(() => parseJsonPreservingBigIds('{"a":0123456789012345678}')).toThrow(SyntaxError);
  });
});

describe('parseMetadata', () => {
  it('parses the documented video reply', () => {
    expect(parseMetadata(replies.METADATA_VIDEO_REPLY.data)).toEqual({
      total: 1,
      resources: [
        {
          assetId: 're_660729180626595840',
          extension: 'mp4',
          originalFilename: '3',
          fileSize: '133652816',
          uploadStatus: 'SUCCESS',
          createTime: '1766989317192',
          modifyTime: '1766989317192',
        },
      ],
    });
  });

  it('keeps 18-digit sizes exact through the whole JSON path', () => {
    const data = parseJsonPreservingBigIds(
      '{"total": 2, "resource":[{"asset_id":"imc_666914042514116608_1", "file_size": 123456789012345678, "create_time": 1766989317192}]}',
    );
    const metadata = parseMetadata(data);
    expect(metadata.total).toBe(2);
    expect(metadata.resources[0]).toMatchObject({ fileSize: '123456789012345678', createTime: '1766989317192' });
  });

  it('is tolerant of types and missing fields', () => {
    const metadata = parseMetadata({
      total: '3',
      resource: [
        { asset_id: 'imc_1_0', file_size: 4821, original_filename: 3, upload_status: 'success' },
        { asset_id: 'imc_1_1', upload_status: 'ARCHIVED', file_size: 'n/a', create_time: -1 },
        { asset_id: 42 },
        { file_size: '1' },
        null,
        'imc_1_2',
      ],
    });
    expect(metadata).toEqual({
      total: 3,
      resources: [
        {
          assetId: 'imc_1_0',
          extension: null,
          originalFilename: '3',
          fileSize: '4821',
          uploadStatus: 'SUCCESS',
          createTime: null,
          modifyTime: null,
        },
        {
          assetId: 'imc_1_1',
          extension: null,
          originalFilename: null,
          fileSize: null,
          uploadStatus: null,
          createTime: null,
          modifyTime: null,
        },
      ],
    });
  });

  it('defaults total to the entries kept and keeps a larger total (partial listing)', () => {
    expect(parseMetadata({ resource: [{ asset_id: 'imc_1_0' }] }).total).toBe(1);
    expect(parseMetadata({}).resources).toEqual([]);
    const partial = parseMetadata(replies.METADATA_COLLECTION_PARTIAL_REPLY.data);
    expect(partial.total).toBe(3);
    expect(partial.resources).toHaveLength(2);
  });

  it('throws UPSTREAM_ERROR when data is not an object', () => {
    expect(() => parseMetadata(null)).toThrow(expect.objectContaining({ kind: 'UPSTREAM_ERROR' }));
    expect(() => parseMetadata([])).toThrow(expect.objectContaining({ kind: 'UPSTREAM_ERROR' }));
  });
});

describe('parseExtractReply / parseUploadReply', () => {
  it('reads task_id and asset_id', () => {
    expect(parseExtractReply(replies.EXTRACT_REPLY.data)).toEqual({ taskId: TASK });
    expect(parseExtractReply(replies.EXTRACT_REPLY_GEN_A.data)).toEqual({ taskId: TASK });
    expect(parseUploadReply(replies.UPLOAD_REPLY.data)).toEqual({ assetId: 're_660727003963174912' });
  });

  it('rejects replies without usable ids', () => {
    for (const data of [null, {}, { task_id: '' }, { task_id: 'has space' }]) {
      let thrown: unknown;
      try {
        parseExtractReply(data);
      } catch (error) {
        thrown = error;
      }
      expect(isUpstreamError(thrown, 'UPSTREAM_ERROR')).toBe(true);
    }
    expect(() => parseUploadReply({ asset_id: 'im_1' })).toThrow(expect.objectContaining({ kind: 'UPSTREAM_ERROR' }));
    expect(() => parseUploadReply(null)).toThrow(expect.objectContaining({ kind: 'UPSTREAM_ERROR' }));
  });
});

describe('parseExtractFramesCallback', () => {
  const frames = [`imc_666914042514116608_0`, `imc_666914042514116608_1`, `imc_666914042514116608_2`];
  const success = (code: unknown, extra: Record<string, unknown> = {}) => ({
    code,
    message: 'SUCCESS',
    data: { asset_id: IM, asset_ch_ids: frames },
    task_id: TASK,
    ...extra,
  });

  it.each([200, '200', '0000'])('accepts success code %j', (code) => {
    expect(parseExtractFramesCallback(success(code))).toEqual({
      ok: true,
      value: { taskId: TASK, succeeded: true, message: 'SUCCESS', code: String(code), collectionId: IM, frameIds: frames },
    });
  });

  it('accepts the shared fixtures', () => {
    for (const body of [callbacks.CALLBACK_SUCCESS, callbacks.CALLBACK_SUCCESS_GEN_A, callbacks.CALLBACK_SUCCESS_UNORDERED]) {
      const parsed = parseExtractFramesCallback(body);
      expect(parsed.ok && parsed.value.succeeded).toBe(true);
      expect(parsed.ok && parsed.value.frameIds).toEqual(replies.FRAME_IDS);
    }
    const empty = parseExtractFramesCallback(callbacks.CALLBACK_EMPTY_FRAMES);
    expect(empty.ok && empty.value.succeeded).toBe(false);
    const foreign = parseExtractFramesCallback(callbacks.CALLBACK_FOREIGN_ENDPOINT);
    expect(foreign.ok && foreign.value.succeeded).toBe(false);
    expect(parseExtractFramesCallback(callbacks.CALLBACK_V1).ok).toBe(false);
  });

  it('sorts frame ids by index and drops duplicates', () => {
    const body = success(200, { data: { asset_id: IM, asset_ch_ids: [frames[2], frames[0], frames[1], frames[0]] } });
    const parsed = parseExtractFramesCallback(body);
    expect(parsed.ok && parsed.value.frameIds).toEqual(frames);
  });

  it('sorts numerically, not lexically', () => {
    const ids = [10, 9, 1].map((n) => `imc_666914042514116608_${n}`);
    const parsed = parseExtractFramesCallback(success(200, { data: { asset_id: IM, asset_ch_ids: ids } }));
    expect(parsed.ok && parsed.value.frameIds).toEqual([...ids].reverse());
  });

  it('drops malformed frame ids and frames of another collection', () => {
    const body = success(200, {
      data: {
        asset_id: IM,
        asset_ch_ids: [frames[1], 'imc_999_0', 'im_666914042514116608', 'imc_666914042514116608_x', 7, null, frames[0]],
      },
    });
    const parsed = parseExtractFramesCallback(body);
    expect(parsed.ok && parsed.value.frameIds).toEqual([frames[0], frames[1]]);
    expect(parsed.ok && parsed.value.succeeded).toBe(true);
  });

  it('fails when no valid frame id remains', () => {
    const parsed = parseExtractFramesCallback(success(200, { data: { asset_id: IM, asset_ch_ids: ['imc_1_0'] } }));
    expect(parsed).toMatchObject({ ok: true, value: { succeeded: false, collectionId: IM, frameIds: [] } });
    expect(parsed.ok && parsed.value.message).toMatch(/no valid frame ids/);
  });

  it('fails when asset_id is not an im_ id', () => {
    const parsed = parseExtractFramesCallback(success(200, { data: { asset_id: 're_1', asset_ch_ids: frames } }));
    expect(parsed).toMatchObject({ ok: true, value: { succeeded: false, collectionId: null, frameIds: [] } });
    expect(parsed.ok && parsed.value.message).toMatch(/not an im_ collection id/);
  });

  it('parses a failure without data, with message or msg', () => {
    expect(parseExtractFramesCallback({ code: 500, message: 'Frame extraction failed', data: null, task_id: TASK })).toEqual({
      ok: true,
      value: {
        taskId: TASK,
        succeeded: false,
        message: 'Frame extraction failed',
        code: '500',
        collectionId: null,
        frameIds: [],
      },
    });
    const viaMsg = parseExtractFramesCallback({ code: '0001', msg: 'bad video', task_id: TASK });
    expect(viaMsg.ok && viaMsg.value.message).toBe('bad video');
  });

  it('falls back to a clear message when a failure has none', () => {
    const parsed = parseExtractFramesCallback({ code: 500, task_id: TASK });
    expect(parsed.ok && parsed.value.message).toBe(CALLBACK_FAILURE_FALLBACK_MESSAGE);
    const noCode = parseExtractFramesCallback({ task_id: TASK, data: { asset_id: IM, asset_ch_ids: frames } });
    expect(noCode).toMatchObject({ ok: true, value: { succeeded: false, code: null } });
  });

  it('fails a success code with success:false', () => {
    const parsed = parseExtractFramesCallback(success(200, { success: false }));
    expect(parsed.ok && parsed.value.succeeded).toBe(false);
  });

  it('fails a success code without asset_ch_ids', () => {
    const parsed = parseExtractFramesCallback(success(200, { data: { asset_id: IM } }));
    expect(parsed).toMatchObject({ ok: true, value: { succeeded: false, collectionId: IM, frameIds: [] } });
  });

  it.each([
    ['a non-object', 'hello'],
    ['an array', [1]],
    ['null', null],
    ['no task_id', { code: 200, message: 'SUCCESS', data: { asset_id: IM, asset_ch_ids: frames } }],
    ['a numeric task_id', { code: 200, task_id: 12 }],
    ['an empty task_id', { code: 200, task_id: '  ' }],
  ])('rejects %s', (_, body) => {
    const parsed = parseExtractFramesCallback(body);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toMatch(/callback body/);
  });

  it('parses a raw webhook body read with parseJsonPreservingBigIds', () => {
    const raw = `{"code":200,"message":"SUCCESS","data":{"asset_id":"${IM}","asset_ch_ids":["${frames[0]}"]},"task_id":"${TASK}"}`;
    const parsed = parseExtractFramesCallback(parseJsonPreservingBigIds(raw));
    expect(parsed.ok && parsed.value.succeeded).toBe(true);
  });
});

describe('frameIndexOf', () => {
  it('returns the index for a frame of the collection', () => {
    expect(frameIndexOf('imc_666914042514116608_12', IM)).toBe(12);
    expect(frameIndexOf('imc_666914042514116608_12', 'im_1')).toBeNull();
    expect(frameIndexOf('imc_x_1')).toBeNull();
  });
});

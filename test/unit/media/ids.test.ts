import { describe, expect, it } from 'vitest';
import {
  classifyMediaId,
  collectionIdOfFrame,
  contentTypeForExtension,
  extensionForContentType,
  mediaPath,
  safeFilename,
} from '../../../src/media/ids.js';

describe('media ids', () => {
  it('classifies frame, collection and video ids and nothing else', () => {
    expect(classifyMediaId('imc_666914042514116608_0')).toBe('frame');
    expect(classifyMediaId('im_666914042514116608')).toBe('collection');
    expect(classifyMediaId('re_657739295220518912')).toBe('video');
    for (const id of ['', 'im_', 'imc_1', 're_1/../x', 'IM_1', 'task_1', 'im_1.zip', '%2e%2e']) {
      expect(classifyMediaId(id)).toBeNull();
    }
  });

  it('derives paths, parent collections and MIME types', () => {
    expect(mediaPath('im_1')).toBe('/media/im_1');
    expect(collectionIdOfFrame('imc_666914042514116608_12')).toBe('im_666914042514116608');
    expect(collectionIdOfFrame('im_1')).toBeNull();
    expect(contentTypeForExtension('JPEG')).toBe('image/jpeg');
    expect(contentTypeForExtension('jpg')).toBe('image/jpeg');
    expect(contentTypeForExtension('png')).toBe('image/png');
    expect(contentTypeForExtension('webp')).toBe('image/webp');
    expect(contentTypeForExtension('gif')).toBe('application/octet-stream');
    expect(extensionForContentType('image/jpeg; charset=binary')).toBe('jpg');
    expect(extensionForContentType('application/x-unknown')).toBe('bin');
  });

  it('makes file names safe for a quoted header parameter', () => {
    expect(safeFilename('my "clip"\r\n.mp4')).toBe('my _clip___.mp4');
    expect(safeFilename('../../etc/passwd')).toBe('_.._etc_passwd');
    expect(safeFilename('   ')).toBeNull();
  });
});

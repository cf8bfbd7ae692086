/** File extension <-> MIME type and container-format helpers. */

const MIME_BY_EXTENSION: Record<string, string> = {
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  avi: 'video/x-msvideo',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  flv: 'video/x-flv',
  wmv: 'video/x-ms-wmv',
  mpeg: 'video/mpeg',
  mpg: 'video/mpeg',
  ts: 'video/mp2t',
  '3gp': 'video/3gpp',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  aac: 'audio/aac',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  m4a: 'audio/mp4',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  zip: 'application/zip',
};

/** MIME type for a lowercase extension; `application/octet-stream` when unknown. */
export function mimeForExtension(extension: string): string {
  return MIME_BY_EXTENSION[extension] ?? 'application/octet-stream';
}

/** Lowercase extension of a file name (without the dot), or '' when it has none usable. */
export function extensionOf(filename: string): string {
  const dot = filename.lastIndexOf('.');
  if (dot <= 0 || dot === filename.length - 1) return '';
  const ext = filename.slice(dot + 1).toLowerCase();
  return /^[a-z0-9]{1,10}$/.test(ext) ? ext : '';
}

/** A plausible extension for an ffprobe `format_name`, used when the upload had no extension. */
export function extensionForFormat(formatName: string): string {
  const first = formatName.split(',')[0] ?? '';
  if (formatName.startsWith('mov,mp4')) return 'mp4';
  if (formatName.startsWith('matroska,webm')) return 'mkv';
  if (first.endsWith('_pipe')) return first.slice(0, -'_pipe'.length).replace('jpeg', 'jpg');
  const known: Record<string, string> = {
    avi: 'avi',
    flv: 'flv',
    asf: 'wmv',
    mpeg: 'mpeg',
    mpegts: 'ts',
    mp3: 'mp3',
    wav: 'wav',
    aac: 'aac',
    flac: 'flac',
    ogg: 'ogg',
    gif: 'gif',
  };
  return known[first] ?? '';
}

/**
 * The demo app at `/`: pick, drop or import a video, extract its frames while following the task live, then browse
 * them as a lazy-loaded grid of renditions, open one full size, scrub the sprite and download the zip. Plain DOM:
 * the markup is in web/index.html, this module only wires it (no inline script, so a strict CSP holds).
 */
import './styles.css';
import { getToken, loadDemoConfig, request, setToken, subscribe, uploadFile, type DemoConfig } from './api.js';
import { DemoError, humanMessage } from './errors.js';
import {
  CreateVideoUploadDocument,
  FrameGridDocument,
  FrameSpriteDocument,
  ImportVideoDocument,
  StartFrameExtractionDocument,
  FollowFrameExtractionDocument,
  VideoAssetStatusDocument,
  type FrameGridQuery,
  type FrameSpriteQuery,
} from './gql/graphql.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

type Step = 'upload' | 'ready' | 'extract' | 'done';
type Collection = NonNullable<FrameGridQuery['frameCollection']>;
type FrameItem = Collection['frames'][number];
type Sprite = NonNullable<FrameSpriteQuery['frameCollection']>['sprite'];

/** Rendition widths in the grid's srcset; the grid lays tiles out at the smaller one (CSS px). */
const GRID_WIDTH = 160;
/**
 * FrameCollection.sprite's bounds (else INVALID_ARGUMENT): at most 8192 px a side, and frameCount × tileWidth² at most
 * 20,000,000 (so 160 px tiles up to 781 frames; 120 px up to the 1000 frames one page lists).
 */
const SPRITE_MAX_SIDE = 8192;
const spriteLayout = (frameCount: number) => {
  const tileWidth = frameCount > 500 ? 120 : 160;
  return { tileWidth, columns: Math.max(10, Math.ceil(frameCount / Math.floor(SPRITE_MAX_SIDE / tileWidth))) };
};
const UPLOAD_POLL_MS = 500;
const UPLOAD_POLL_LIMIT = 240;

let config: DemoConfig = { auth: false, graphiql: false };
let busy = false;
let frames: FrameItem[] = [];
let viewerIndex = 0;

// ---------------------------------------------------------------- status and errors

let currentStep: Step = 'upload';

function setStep(step: Step, state: 'active' | 'done' | 'failed') {
  currentStep = step;
  for (const li of $('steps').querySelectorAll<HTMLLIElement>('li')) {
    const order: Step[] = ['upload', 'ready', 'extract', 'done'];
    const mine = order.indexOf(li.dataset.step as Step);
    const current = order.indexOf(step);
    li.className = mine < current ? 'done' : mine === current ? state : '';
    if (mine === current) li.setAttribute('aria-current', 'step');
    else li.removeAttribute('aria-current');
  }
}

function status(text: string) {
  $('status').textContent = text;
}

function showError(error: unknown) {
  const e = error instanceof DemoError ? error : new DemoError('INTERNAL', String(error));
  $('error').hidden = false;
  $('error').dataset.code = e.code;
  let message = humanMessage(e.code);
  if (e.retryAfterSeconds) message += ` (retry in ${e.retryAfterSeconds} s)`;
  $('error-message').textContent = message;
  $('error-detail').textContent = `${e.code}: ${e.detail}`;
  if (e.code === 'UNAUTHENTICATED') askForToken();
}

function clearError() {
  $('error').hidden = true;
  delete $('error').dataset.code;
}

/** A mutation result that is not the success member: its typed error (`... on Error { code message }`) as a {@link DemoError}. */
function typedError(result: { __typename: string }): DemoError {
  const maybe = result as { code?: string; message?: string; retryAfterSeconds?: number };
  return typeof maybe.code === 'string'
    ? new DemoError(maybe.code, maybe.message ?? '', maybe.retryAfterSeconds)
    : new DemoError('INTERNAL', `unexpected ${result.__typename}`);
}

// ---------------------------------------------------------------- auth

function askForToken() {
  $('token-panel').hidden = false;
  $<HTMLInputElement>('token-input').focus();
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>('token-input');
  setToken(input.value.trim().replace(/^Bearer\s+/i, ''));
  input.value = '';
  $('token-panel').hidden = true;
  clearError();
  status('Token saved for this tab.');
});

// ---------------------------------------------------------------- the flow

async function run(source: { file: File } | { url: string }) {
  if (busy) return;
  if (config.auth && !getToken()) {
    askForToken();
    showError(new DemoError('UNAUTHENTICATED', 'no token entered yet'));
    return;
  }
  busy = true;
  document.body.classList.add('busy');
  clearError();
  $('status-panel').hidden = false;
  $('result-panel').hidden = true;
  try {
    const assetId = 'file' in source ? await directUpload(source.file) : await importUrl(source.url);
    await waitUntilReady(assetId);
    const collectionId = await extract(assetId);
    await showFrames(collectionId);
  } catch (error) {
    setStep(currentStep, 'failed');
    showError(error);
  } finally {
    busy = false;
    document.body.classList.remove('busy');
    $('upload-progress').hidden = true;
  }
}

async function directUpload(file: File): Promise<string> {
  setStep('upload', 'active');
  status(`Uploading ${file.name}…`);
  const { createVideoUpload: result } = await request(CreateVideoUploadDocument, { filename: file.name, contentType: file.type || null });
  if (result.__typename !== 'VideoUploadTicket') throw typedError(result);
  const progress = $<HTMLProgressElement>('upload-progress');
  progress.hidden = false;
  progress.value = 0;
  await uploadFile(result, file, (fraction) => {
    progress.value = fraction;
    status(`Uploading ${file.name}… ${Math.round(fraction * 100)} %`);
  });
  return result.asset.id;
}

async function importUrl(url: string): Promise<string> {
  setStep('upload', 'active');
  status(`Importing ${url}…`);
  const { importVideo: result } = await request(ImportVideoDocument, { url });
  if (result.__typename !== 'ImportVideoSuccess') throw typedError(result);
  return result.asset.id;
}

async function waitUntilReady(assetId: string) {
  setStep('ready', 'active');
  for (let attempt = 0; attempt < UPLOAD_POLL_LIMIT; attempt++) {
    const { videoAsset } = await request(VideoAssetStatusDocument, { id: assetId });
    if (!videoAsset) throw new DemoError('ASSET_NOT_FOUND', assetId);
    status(`Video ${assetId}: ${videoAsset.uploadStatus ?? 'unknown'}`);
    if (videoAsset.uploadStatus === 'SUCCESS') return;
    if (videoAsset.uploadStatus === 'FAILED') throw new DemoError('UPLOAD_FAILED', assetId);
    await new Promise((resolve) => setTimeout(resolve, UPLOAD_POLL_MS));
  }
  throw new DemoError('ASSET_NOT_READY', `${assetId} still not SUCCESS`);
}

async function extract(assetId: string): Promise<string> {
  setStep('extract', 'active');
  status('Starting the extraction…');
  const { extractFrames: result } = await request(StartFrameExtractionDocument, { assetId });
  if (result.__typename !== 'ExtractFramesSuccess') throw typedError(result);
  const taskId = result.task.id;
  return new Promise<string>((resolve, reject) => {
    let collectionId: string | undefined;
    let failure: DemoError | undefined;
    subscribe(FollowFrameExtractionDocument, { id: taskId }, {
      next: ({ frameExtractionTask: task }) => {
        status(`Task ${task.id}: ${task.status}${task.frameCount != null ? `, ${task.frameCount} frames` : ''}`);
        $('status').dataset.taskStatus = task.status;
        if (task.status === 'SUCCEEDED' && task.collectionId) collectionId = task.collectionId;
        if (task.status === 'FAILED') failure = new DemoError('EXTRACTION_FAILED', task.error ?? 'FAILED');
      },
      error: reject,
      complete: () => {
        if (collectionId) resolve(collectionId);
        else reject(failure ?? new DemoError('EXTRACTION_TIMED_OUT', taskId));
      },
    });
  });
}

// ---------------------------------------------------------------- results

async function showFrames(collectionId: string) {
  const { frameCollection } = await request(FrameGridDocument, { id: collectionId });
  if (!frameCollection) throw new DemoError('INTERNAL', `collection ${collectionId} not found`);
  setStep('done', 'done');
  status(`${frameCollection.frameCount} frames extracted.`);
  frames = frameCollection.frames;
  $('grid').dataset.collectionId = frameCollection.id;
  $('grid').dataset.frameCount = String(frameCollection.frameCount);
  $<HTMLAnchorElement>('zip-link').href = frameCollection.zipUrl;
  renderGrid(frameCollection);
  $('scrubber').hidden = true;
  $('result-panel').hidden = false;
  $('result-title').textContent = `3. Frames (${frameCollection.frameCount})`;
  // The sprite is a separate request: the grid is useful without it, so a sprite error only hides the scrubber.
  request(FrameSpriteDocument, { id: collectionId, ...spriteLayout(frameCollection.frameCount) }).then(
    ({ frameCollection: withSprite }) => withSprite && renderScrubber(withSprite.sprite),
    (error: unknown) => console.warn('sprite unavailable', error),
  );
}

function renderGrid(collection: Collection) {
  const grid = $('grid');
  grid.replaceChildren(
    ...collection.frames.map((frame, position) => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'tile';
      button.setAttribute('aria-label', `Open frame ${frame.index + 1} full size`);
      const img = document.createElement('img');
      img.loading = 'lazy';
      img.decoding = 'async';
      img.alt = `Frame ${frame.index + 1} of ${collection.frameCount}`;
      img.sizes = `${GRID_WIDTH}px`;
      img.srcset = `${frame.small} ${GRID_WIDTH}w, ${frame.large} ${GRID_WIDTH * 2}w`;
      img.src = frame.small;
      img.dataset.index = String(frame.index);
      const caption = document.createElement('span');
      caption.textContent = `#${frame.index + 1}`;
      button.append(img, caption);
      button.addEventListener('click', () => openViewer(position));
      li.append(button);
      return li;
    }),
  );
}

function renderScrubber(sprite: Sprite) {
  // The frames' aspect ratio (the API gives no frame dimensions; the sprite's tiles have them): tiles keep it.
  $('grid').style.setProperty('--tile-aspect', `${sprite.tileWidth} / ${sprite.tileHeight}`);
  if (sprite.tiles.length === 0) return;
  const windowEl = $('sprite-window');
  windowEl.style.width = `${sprite.tileWidth}px`;
  windowEl.style.height = `${sprite.tileHeight}px`;
  const img = $<HTMLImageElement>('sprite');
  img.src = sprite.url;
  $('scrubber').hidden = false;
  const input = $<HTMLInputElement>('scrub-input');
  input.max = String(sprite.tiles.length - 1);
  input.value = '0';
  const show = (position: number) => {
    const tile = sprite.tiles[position];
    if (!tile) return;
    img.style.transform = `translate(${-tile.x}px, ${-tile.y}px)`;
    $('scrub-output').textContent = `Frame ${tile.index + 1} of ${sprite.tiles.length}`;
    input.setAttribute('aria-valuetext', `Frame ${tile.index + 1}`);
  };
  input.oninput = () => show(Number(input.value));
  // Hovering the sprite scrubs too, like a video scrub bar.
  windowEl.onpointermove = (event) => {
    const fraction = Math.min(0.999, Math.max(0, event.offsetX / sprite.tileWidth));
    input.value = String(Math.floor(fraction * sprite.tiles.length));
    show(Number(input.value));
  };
  show(0);
}

function openViewer(position: number) {
  const frame = frames[position];
  if (!frame) return;
  viewerIndex = position;
  const viewer = $<HTMLDialogElement>('viewer');
  $('viewer-title').textContent = `Frame ${frame.index + 1} of ${frames.length}`;
  const img = $<HTMLImageElement>('viewer-image');
  img.src = frame.full;
  img.alt = `Frame ${frame.index + 1}, full size`;
  $<HTMLAnchorElement>('viewer-open').href = frame.full;
  $<HTMLButtonElement>('viewer-prev').disabled = position === 0;
  $<HTMLButtonElement>('viewer-next').disabled = position === frames.length - 1;
  if (!viewer.open) viewer.showModal();
}

$('viewer-prev').addEventListener('click', () => openViewer(viewerIndex - 1));
$('viewer-next').addEventListener('click', () => openViewer(viewerIndex + 1));
$('viewer').addEventListener('keydown', (event) => {
  if (event.key === 'ArrowLeft') openViewer(viewerIndex - 1);
  if (event.key === 'ArrowRight') openViewer(viewerIndex + 1);
});

// ---------------------------------------------------------------- sources: pick, drop, import

const fileInput = $<HTMLInputElement>('file-input');
fileInput.addEventListener('change', () => {
  const file = fileInput.files?.[0];
  if (file) void run({ file });
  fileInput.value = '';
});

const dropZone = $('drop-zone');
for (const type of ['dragenter', 'dragover'] as const) {
  dropZone.addEventListener(type, (event) => {
    event.preventDefault();
    dropZone.classList.add('over');
  });
}
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
dropZone.addEventListener('drop', (event) => {
  event.preventDefault();
  dropZone.classList.remove('over');
  const file = event.dataTransfer?.files[0];
  if (file) void run({ file });
});

$('import-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>('url-input');
  void run({ url: input.value.trim() });
});

// ---------------------------------------------------------------- start

loadDemoConfig().then(
  (loaded) => {
    config = loaded;
    $('graphiql-link').hidden = !config.graphiql;
    if (config.auth && !getToken()) askForToken();
    document.body.dataset.ready = 'true';
  },
  (error: unknown) => showError(error),
);

/**
 * Points `os.tmpdir()` (it reads TMPDIR on every call) at a fresh, empty directory for each test of the calling
 * file, so a test can assert that code left no temp file behind without seeing other test processes' files.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

export interface ScratchTmpdir {
  /** The entries now in the scratch directory. */
  entries(): Promise<string[]>;
}

export function useScratchTmpdir(): ScratchTmpdir {
  let dir = '';
  let previous: string | undefined;
  beforeEach(async () => {
    previous = process.env.TMPDIR;
    dir = await mkdtemp(join(tmpdir(), 'scratch-tmp-'));
    process.env.TMPDIR = dir;
  });
  afterEach(async () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    await rm(dir, { recursive: true, force: true });
  });
  return { entries: () => readdir(dir) };
}

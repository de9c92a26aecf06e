import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-write';

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'peftjs-atomic-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes strings as UTF-8, bytes, and chunk sequences in order, replacing the old file', async () => {
    const path = join(directory, 'out.txt');
    await writeFileAtomic(path, 'héllo');
    expect(await readFile(path, 'utf8')).toBe('héllo');
    await writeFileAtomic(path, Uint8Array.from([1, 2, 3]));
    expect([...(await readFile(path))]).toEqual([1, 2, 3]);
    await writeFileAtomic(path, [Uint8Array.from([4]), new Uint8Array(0), Uint8Array.from([5, 6])]);
    expect([...(await readFile(path))]).toEqual([4, 5, 6]);
    expect(await readdir(directory)).toEqual(['out.txt']);
  });

  it('a failure mid-write leaves the old file intact and no temporary file behind', async () => {
    const path = join(directory, 'model.safetensors');
    await writeFile(path, 'old content');
    async function* failingChunks(): AsyncIterable<Uint8Array> {
      yield new TextEncoder().encode('new, partial');
      throw new Error('disk unplugged');
    }
    await expect(writeFileAtomic(path, failingChunks())).rejects.toThrow('disk unplugged');
    expect(await readFile(path, 'utf8')).toBe('old content');
    expect(await readdir(directory)).toEqual(['model.safetensors']);
  });

  it('a failed rename (target is a directory) removes the temporary file', async () => {
    const path = join(directory, 'taken');
    await mkdir(path);
    await writeFile(join(path, 'inside'), 'x');
    await expect(writeFileAtomic(path, 'data')).rejects.toThrow();
    expect((await readdir(directory)).sort()).toEqual(['taken']);
    expect(await readdir(path)).toEqual(['inside']);
  });

  it('a missing directory is an error and creates nothing', async () => {
    await expect(writeFileAtomic(join(directory, 'missing', 'file'), 'data')).rejects.toThrow(/ENOENT/);
    expect(await readdir(directory)).toEqual([]);
  });
});

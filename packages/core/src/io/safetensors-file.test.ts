import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PeftError } from '../errors/peft-error';
import { tf } from '../nn/tf';
import { readJsonFile, writeJsonAtomic } from './json-file';
import { encodeSafetensors } from './safetensors';
import { loadSafetensors, saveSafetensors } from './safetensors-file';

let directory: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'peftjs-io-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('saveSafetensors / loadSafetensors', () => {
  it('writes the same bytes as encodeSafetensors and loads them back', async () => {
    const tensors = { 'a.weight': tf.tensor([[1, 2], [3, 4]]), 'a.ids': tf.tensor([7, -8], [2], 'int32') };
    const path = join(directory, 'model.safetensors');
    await saveSafetensors(path, tensors, { format: 'pt' });
    expect([...(await readFile(path))]).toEqual([...encodeSafetensors(tensors, { format: 'pt' })]);
    const loaded = await loadSafetensors(path);
    expect(loaded.metadata).toEqual({ format: 'pt' });
    expect(loaded.tensors['a.weight']!.arraySync()).toEqual([[1, 2], [3, 4]]);
    expect(loaded.tensors['a.ids']!.arraySync()).toEqual([7, -8]);
    expect(await readdir(directory)).toEqual(['model.safetensors']);
    tf.dispose([...Object.values(tensors), ...Object.values(loaded.tensors)]);
  });

  it('a missing file is a typed error naming the path', async () => {
    const path = join(directory, 'absent.safetensors');
    const error = await loadSafetensors(path).catch((e: unknown) => e);
    expect(PeftError.hasCode(error, 'invalid-argument')).toBe(true);
    expect((error as PeftError).value).toBe(path);
  });
});

describe('readJsonFile / writeJsonAtomic', () => {
  it('round-trips a value as indented JSON with a trailing newline', async () => {
    const path = join(directory, 'config.json');
    await writeJsonAtomic(path, { r: 8, targets: ['query'] });
    expect(await readFile(path, 'utf8')).toBe('{\n  "r": 8,\n  "targets": [\n    "query"\n  ]\n}\n');
    expect(await readJsonFile(path)).toEqual({ r: 8, targets: ['query'] });
  });

  it('validates with a schema and names the offending field', async () => {
    const path = join(directory, 'config.json');
    await writeFile(path, JSON.stringify({ model: { hidden_size: 'big' } }));
    const schema = z.object({ model: z.object({ hidden_size: z.number() }) });
    const error = await readJsonFile(path, schema).catch((e: unknown) => e);
    expect(PeftError.hasCode(error, 'invalid-config')).toBe(true);
    expect((error as PeftError).field).toBe('model.hidden_size');
    expect((error as PeftError).value).toBe('big');
    await writeFile(path, JSON.stringify({ model: { hidden_size: 8 } }));
    const value = await readJsonFile(path, schema);
    expect(value.model.hidden_size).toBe(8);
  });

  it('invalid JSON is a typed error', async () => {
    const path = join(directory, 'config.json');
    await writeFile(path, '{"a":');
    await expect(readJsonFile(path)).rejects.toSatisfy((e) => PeftError.hasCode(e, 'invalid-config'));
  });
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBert, peft } from '@peftjs/core';
import '@peftjs/lora/register';
import '@peftjs/selective/register';
import { afterAll, describe, expect, it } from 'vitest';
import { listMethods } from '../runner/method-discovery';
import { resolveMethodRuns } from '../runner/method-spec';
import { defineHybrid } from './define-hybrid';
import { registerHybrid } from './hybrid-registry';
import { partParameterReport } from './part-report';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

describe('the README hybrid example', () => {
  it('defines, registers, applies, reports per part and saves a hybrid of its own', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peftjs-readme-hybrid-'));
    dirs.push(dir);
    // --- the README's lines ---
    const loraBitfit = defineHybrid({
      name: 'acme/lora-bitfit',
      parts: [{ method: 'lora', config: { r: 4 } }, { method: 'bitfit', config: { subset: 'query-and-intermediate' } }],
    });
    registerHybrid(loraBitfit);
    const model = createBert({ vocabSize: 100, hiddenSize: 32, numLayers: 2, numHeads: 2, task: 'sequence-classification', numLabels: 2 });
    const tuned = peft(model, loraBitfit.configs({ overrides: { lora: { alpha: 16 } }, trainHead: true }));
    const parts = partParameterReport(tuned);
    await tuned.save(join(dir, 'my-hybrid'));
    // --- end ---

    // LoRA r = 4 on query and value of 2 layers (32 → 32): 2 · 2 · (4·32 + 32·4) = 1024; BitFit's b_q and b_m2
    // (2 · (32 + 128) = 320) plus the head (32·2 + 2 = 66): 386, as the README's comment says.
    expect(parts.map((part) => [part.name, part.trainable])).toEqual([
      ['lora', 1024],
      ['bitfit', 386],
    ]);
    const manifest = JSON.parse(await readFile(join(dir, 'my-hybrid', 'adapter_config.json'), 'utf8')) as { methods: Array<{ name: string; package: string; config: { alpha?: number } }> };
    expect(manifest.methods.map((method) => [method.name, method.package])).toEqual([
      ['lora', '@peftjs/lora'],
      ['bitfit', '@peftjs/selective'],
    ]);
    expect(manifest.methods[0]!.config.alpha).toBe(16);
    // Registered: listed by `peftjs methods` and run by name.
    expect(listMethods().find((listing) => listing.name === 'acme/lora-bitfit')).toMatchObject({ kind: 'hybrid', parts: ['lora', 'bitfit'] });
    const [run] = resolveMethodRuns(['acme/lora-bitfit']);
    expect(run!.configs.map((config) => config.method.name)).toEqual(['lora', 'bitfit']);
  });
});

import { createBert, createRegistry, loadPeft, type Linear, peft, PeftError, setGlobalSeed, tf, type Batch } from '@peftjs/core';
import { conformanceBatch, createConformanceBert, describeConformance, disposeBatch } from '@peftjs/core/testing';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChannelScaleLinear } from './layer';
import { channelScale, channelScaleMethod } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'example/channel-scale',
  methods: () => [channelScale({ targets: { roles: ['attention.value', 'ffn.down'] } })],
  invalidConfigs: [
    { method: channelScale, config: { init: 'one' }, field: 'init' },
    { method: channelScale, config: { targets: { roles: 'ffn.down' } }, field: 'targets.roles' },
  ],
});

describeConformance({
  name: 'example/channel-scale composed with itself on overlapping targets (wrapper of wrapper)',
  methods: () => [channelScale({ targets: { roles: ['ffn.down'] } }), channelScale({ targets: { roles: ['ffn.down', 'ffn.up'] }, init: 1 })],
});

describe('channel-scale', () => {
  it('computes (x·W + b) ⊙ s, and merges into W·diag(s), b ⊙ s', () => {
    const model = createConformanceBert();
    const tuned = peft(model, [channelScale({ targets: { paths: ['encoder.layers.0.ffn.down'] } })]);
    const layer = tuned.model.getModule<ChannelScaleLinear>('encoder.layers.0.ffn.down');
    expect(layer).toBeInstanceOf(ChannelScaleLinear);
    layer.scaleOf().assign(tf.linspace(0.5, 2, layer.outFeatures));
    const x = tf.randomNormal([2, layer.inFeatures], 0, 1, 'float32', 3);
    const w = (layer.base as Linear).weight.value.arraySync() as number[][];
    const b = (layer.base as Linear).bias!.value.arraySync() as number[];
    const s = layer.scaleOf().value.arraySync() as number[];
    const xs = x.arraySync() as number[][];
    const expected = xs.map((row) => s.map((sj, j) => sj * (row.reduce((acc, xi, i) => acc + xi * w[i]![j]!, 0) + b[j]!)));
    const actual = layer.forward(x).arraySync() as number[][];
    actual.forEach((row, r) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[r]![j]!, 4)));
    layer.mergeAdapter('default');
    const merged = (layer.base as Linear).weight.value.arraySync() as number[][];
    expect(merged[3]![5]).toBeCloseTo(w[3]![5]! * s[5]!, 6);
    expect(((layer.base as Linear).bias!.value.arraySync() as number[])[5]).toBeCloseTo(b[5]! * s[5]!, 6);
    model.dispose();
  });

  it('trains to a loss the frozen model cannot reach, then saves and reloads the adapter', async () => {
    // A base with larger weights than BERT's 0.02 init, so output scales have signal to work with.
    setGlobalSeed(5);
    const makeBase = () => {
      setGlobalSeed(5);
      return createBert({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 32, hiddenDropout: 0, attentionDropout: 0, numLabels: 3, initStd: 0.3 });
    };
    const model = makeBase();
    model.eval();
    const batch: Batch = conformanceBatch(model, { batch: 6, seed: 11 });
    const frozenLoss = tf.tidy(() => model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
    const tuned = peft(model, [channelScale({ targets: { roles: ['all-linear', 'pooler', 'head'] } })]);
    const optimizer = tf.train.adam(0.05);
    const variables = tuned.trainableParameters().map((p) => p.variable);
    let loss = frozenLoss;
    for (let step = 0; step < 60; step++) {
      const cost = optimizer.minimize(() => tuned.taskLoss(tuned.forward(batch), batch.labels!, batch.attentionMask), true, variables)!;
      loss = cost.dataSync()[0]!;
      cost.dispose();
    }
    optimizer.dispose();
    // Six random labels over three classes: the frozen model is no better than chance; the scales fit them.
    expect(frozenLoss).toBeGreaterThan(0.9);
    expect(loss).toBeLessThan(0.3);

    const dir = await mkdtemp(join(tmpdir(), 'channel-scale-'));
    try {
      await tuned.save(dir);
      const manifest = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
      expect(JSON.stringify(manifest)).toContain('example/channel-scale');
      const reloaded = await loadPeft(makeBase(), dir, { registry: createRegistry([channelScaleMethod]) });
      reloaded.model.eval();
      const reloadedLoss = tf.tidy(() => reloaded.taskLoss(reloaded.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
      const tunedLoss = tf.tidy(() => tuned.taskLoss(tuned.forward(batch), batch.labels!, batch.attentionMask).dataSync()[0]!);
      expect(reloadedLoss).toBeCloseTo(tunedLoss, 5);
      reloaded.model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
      disposeBatch(batch);
      model.dispose();
    }
  });

  it('names the package when its method is missing from the registry', async () => {
    const model = createConformanceBert();
    const tuned = peft(model, [channelScale({ targets: { roles: ['ffn.down'] } })]);
    const dir = await mkdtemp(join(tmpdir(), 'channel-scale-'));
    try {
      await tuned.save(dir);
      await expect(loadPeft(createConformanceBert(), dir, { registry: createRegistry() })).rejects.toSatisfy(
        (error: unknown) => PeftError.hasCode(error, 'unknown-method') && (error as Error).message.includes('@peftjs-example/channel-scale'),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
      model.dispose();
    }
  });

  it('registers itself into the default registry through the register entry', async () => {
    const { defaultRegistry } = await import('@peftjs/core');
    await import('./register');
    expect(defaultRegistry.get('example/channel-scale')).toBe(channelScaleMethod);
  });
});

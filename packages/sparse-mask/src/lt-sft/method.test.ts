import { AdamW, createRegistry, loadPeft, peft, tf, type Parameter } from '@peftjs/core';
import { createConformanceBert, disposeBatch } from '@peftjs/core/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sparseMethodChecks } from '../shared/sparse-checks';
import { calibrationContextFor, perturbTrainable, referenceTopKOfScores, sparseDeltaOf, trainingBatches } from '../shared/test-support';
import { ltSft } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function parameterAt(model: { namedParameters(): Array<[string, Parameter]> }, path: string): Parameter {
  return model.namedParameters().find(([p]) => p === path)![1];
}

describe('lt-sft', () => {
  it('calibrate keeps the K most-changed entries of a full fine-tuning phase and resets every weight to θ0', () => {
    const reference = createConformanceBert();
    const model = createConformanceBert();
    const batches = trainingBatches(model, 3);
    const tuned = peft(model, [ltSft({ density: 0.02, fullSteps: 4, fullLearningRate: 1e-2 })]);
    const delta = sparseDeltaOf(tuned);
    const before = model.namedParameters().map(([, p]) => p.variable.dataSync().slice());
    tuned.appliedMethods()[0]!.calibrate!(calibrationContextFor(model, batches));
    model.namedParameters().forEach(([path, p], i) => {
      if (path.startsWith('lt_sft')) return;
      expect(Array.from(p.variable.dataSync())).toEqual(Array.from(before[i]!));
    });
    // Reference: the same four Adam steps on a bare copy, ranked by a full sort in plain JS.
    const paths = delta.targets.map((t) => t.path);
    const head = tuned.trainableParameters().filter((p) => p !== delta.values);
    const headPaths = head.map((p) => model.namedParameters().find(([, q]) => q === p)![0]);
    const trained = [...paths, ...headPaths].map((path) => parameterAt(reference, path));
    const start = trained.map((p) => p.variable.dataSync().slice());
    const adam = new AdamW(trained, { learningRate: 1e-2, weightDecay: 0 });
    for (let step = 0; step < 4; step++) {
      const batch = batches[step % 3]!;
      const { value, grads } = tf.variableGrads(() => reference.taskLoss(reference.forward(batch), batch.labels!, batch.attentionMask), trained.map((p) => p.variable));
      adam.step(new Map(trained.map((p) => [p, grads[p.variable.name]!] as const)));
      tf.dispose([value, ...Object.values(grads)]);
    }
    const changes = paths.map((_, t) => Array.from(trained[t]!.variable.dataSync(), (v, i) => Math.abs(Math.fround(v - start[t]![i]!))));
    expect(Array.from(delta.globalIndices())).toEqual(referenceTopKOfScores(changes, delta.size));
    adam.dispose();
    batches.forEach(disposeBatch);
    [model, reference].forEach((m) => m.dispose());
  });

  it('two sparse deltas compose by addition: in one adapter, and as two saved files loaded onto one model', async () => {
    const model = createConformanceBert();
    const tuned = peft(model, [ltSft({ density: 0.05, seed: 1, modulesToSave: null }), ltSft({ density: 0.05, seed: 2, modulesToSave: null })]);
    perturbTrainable(tuned);
    const [a, b] = tuned.appliedMethods().map((m) => (m as unknown as { delta: ReturnType<typeof sparseDeltaOf> }).delta);
    const target = 0;
    const w0 = Array.from(a!.targets[target]!.parameter.variable.dataSync());
    const expected = [...w0];
    for (const delta of [a!, b!]) {
      const values = delta.values.value.dataSync();
      const global = delta.globalIndices();
      global.forEach((index, i) => {
        if (index < w0.length) expected[index] = expected[index]! + values[i]!;
      });
    }
    expect(expected.filter((v, i) => v !== w0[i]).length).toBeGreaterThan(2);
    tuned.merge();
    Array.from(a!.targets[target]!.parameter.variable.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    tuned.unmerge();

    // Two files, each with one delta, loaded onto one fresh model: W = W0 + δ1 + δ2 after merge.
    const dirs = await Promise.all([1, 2].map(() => mkdtemp(join(tmpdir(), 'lt-sft-'))));
    try {
      for (const [i, seed] of [1, 2].entries()) {
        const single = createConformanceBert();
        const one = peft(single, [ltSft({ density: 0.05, seed, modulesToSave: null })]);
        sparseDeltaOf(one).values.assign(sparseDeltaOf(tuned).values.value.mul(0).add([a!, b!][i]!.values.value));
        await one.save(dirs[i]!);
        single.dispose();
      }
      const fresh = createConformanceBert();
      const first = await loadPeft(fresh, dirs[0]!, { registry: createRegistry([ltSft]) });
      const second = await loadPeft(fresh, dirs[1]!, { adapterName: 'second', registry: createRegistry([ltSft]) });
      first.merge();
      second.merge();
      Array.from(parameterAt(fresh, a!.targets[target]!.path).variable.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
      fresh.dispose();
    } finally {
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    }
    model.dispose();
  });

  sparseMethodChecks(() => ltSft({ density: 0.05, fullSteps: 4, fullLearningRate: 1e-2 }));
});

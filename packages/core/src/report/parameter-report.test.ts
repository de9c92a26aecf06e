import { beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../io/safetensors';
import { peft } from '../method/peft-model';
import { TINY_MODEL_BIASES, TINY_MODEL_PARAMETERS, TinyModel, addShift, biasOnly, prefixSlot, scaleVector, type ScaledLinear } from '../method/test-fixtures';
import { tf } from '../nn/tf';
import { formatParameterReport } from './format-parameter-report';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** Sets entries of a parameter (by flat index) to new values. */
function edit(model: TinyModel, path: string, changes: Record<number, number>): void {
  const parameter = model.getParameter(path);
  const values = Float32Array.from(parameter.variable.dataSync());
  for (const [index, value] of Object.entries(changes)) values[Number(index)] = value;
  parameter.assign(tf.tensor(values, parameter.shape));
}

const snapshotOf = (model: TinyModel): number[][] => model.namedParameters().map(([, p]) => Array.from(p.variable.dataSync()));

describe('parameterReport', () => {
  it('counts a selective method: trainable = the biases, changed = the entries edited', () => {
    const model = new TinyModel();
    expect(model.parameters().reduce((n, p) => n + p.size, 0)).toBe(TINY_MODEL_PARAMETERS);
    const tuned = peft(model, [biasOnly()]);
    const fresh = tuned.report();
    expect(fresh).toMatchObject({ total: TINY_MODEL_PARAMETERS, base: TINY_MODEL_PARAMETERS, trainable: TINY_MODEL_BIASES, changed: 0, changedMeasuredMerged: true });
    expect(fresh.trainablePercent).toBeCloseTo((100 * 50) / 298, 10);
    edit(model, 'head.bias', { 0: 9 });
    edit(model, 'encoder.layers.0.ffn.up.bias', { 0: 1, 1: 2, 2: 3 });
    // A frozen base entry that changes counts too: "changed" is about values, not flags.
    edit(model, 'encoder.layers.1.attentionNorm.gamma', { 3: 0.5 });
    const report = tuned.report();
    expect(report.changed).toBe(1 + 3 + 1);
    expect(report.changedPercent).toBeCloseTo((100 * 5) / 298, 10);
    expect(report.perMethod).toEqual([
      { name: 'test/bias-only', kind: 'selective', packageName: '@peftjs/test-fixtures', adapterName: 'default', trainable: 50, added: 0, stateEntries: 50, mergeable: true },
    ]);
    model.dispose();
  });

  it('counts a mergeable reparametrization by what the merge changes, and leaves the weights as they were', () => {
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector()]);
    // value (4) and ffn.down (4) in 2 layers.
    expect(tuned.report()).toMatchObject({ total: TINY_MODEL_PARAMETERS + 16, base: TINY_MODEL_PARAMETERS, trainable: 16, changed: 0 });
    model.getModule<ScaledLinear>('encoder.layers.0.attention.value').parameter('scale').assign(tf.tensor1d([1, 3, 1, 1]));
    model.getModule<ScaledLinear>('encoder.layers.1.ffn.down').parameter('scale').assign(tf.tensor1d([1, 1, 1, 0.3]));
    const before = snapshotOf(model);
    const report = tuned.report();
    // Scaling output column j changes W[:, j] (in entries) and b[j]: 4 + 1 for value (4 -> 4), 8 + 1 for ffn.down (8 -> 4).
    expect(report.changed).toBe(5 + 9);
    expect(report.changedMeasuredMerged).toBe(true);
    expect(snapshotOf(model)).toEqual(before);
    expect(tuned.isMerged).toBe(false);
    // Every scale different from 1: every entry of the four wrapped Linears changes (2 · (20 + 36)), and
    // the weights come back bit for bit although W · s / s does not round-trip exactly in float32.
    for (const path of ['encoder.layers.0.attention.value', 'encoder.layers.1.attention.value', 'encoder.layers.0.ffn.down', 'encoder.layers.1.ffn.down']) {
      model.getModule<ScaledLinear>(path).parameter('scale').assign(tf.tensor1d([0.37, 1.9, 2.71, 0.13]));
    }
    const beforeAll = snapshotOf(model);
    expect(tuned.report().changed).toBe(2 * (20 + 36));
    expect(snapshotOf(model)).toEqual(beforeAll);
    tuned.merge();
    expect(tuned.report().changed).toBe(2 * (20 + 36));
    model.dispose();
  });

  it('without a full merge, counts base differences plus every entry of added parameters', () => {
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector(), addShift({ targets: { roles: ['attention.output'] }, size: 4 })]);
    const report = tuned.report();
    expect(report).toMatchObject({ total: TINY_MODEL_PARAMETERS + 16 + 8, trainable: 24, changed: 24, changedMeasuredMerged: false });
    edit(model, 'head.weight', { 5: 0 });
    expect(tuned.report().changed).toBe(25);
    model.dispose();
  });

  it('counts parameters held outside the module tree (slots) in total and trainable', () => {
    const model = new TinyModel();
    const tuned = peft(model, [prefixSlot()]);
    expect(tuned.report()).toMatchObject({ total: TINY_MODEL_PARAMETERS + 32, trainable: 32, changed: 32 });
    model.dispose();
  });

  it('counts only the active adapter as trainable; every adapter in total', () => {
    const model = new TinyModel();
    const tuned = peft(model, [scaleVector({ targets: { paths: ['head'] } })], { adapterName: 'a' });
    tuned.addAdapter('b', [addShift({ targets: { roles: ['ffn.down'] }, size: 4 })]);
    expect(tuned.report()).toMatchObject({ total: TINY_MODEL_PARAMETERS + 2 + 8, trainable: 2, adapterName: 'a' });
    tuned.setAdapter('b');
    expect(tuned.report()).toMatchObject({ trainable: 8, changed: 8, adapterName: 'b' });
    model.dispose();
  });

  it('gives the exact size of the adapter file the state makes', () => {
    const model = new TinyModel();
    const tuned = peft(model, [biasOnly(), scaleVector()]);
    const tensors: Record<string, tf.Tensor> = {};
    for (const entry of tuned.entries()) for (const [key, tensor] of Object.entries(entry.applied.state())) tensors[`${entry.index}.${entry.method.name}.${key}`] = tensor;
    const report = tuned.report();
    expect(report.adapterBytes).toBe(encodeSafetensors(tensors, { format: 'pt' }).length);
    expect(report.adapterBytes).toBeGreaterThan((50 + 16) * 4);
    model.dispose();
  });

  it('reports changed as undefined with trackChanges: false', () => {
    const model = new TinyModel();
    const report = peft(model, [biasOnly()], { trackChanges: false }).report();
    expect(report.changed).toBeUndefined();
    expect(report.changedPercent).toBeUndefined();
    expect(formatParameterReport(report)).toContain('changed       not tracked');
    model.dispose();
  });
});

describe('formatParameterReport', () => {
  it('prints the summary and an aligned per-method table', () => {
    const model = new TinyModel();
    const tuned = peft(model, [biasOnly(), scaleVector()]);
    const text = formatParameterReport(tuned.report());
    const lines = text.split('\n');
    expect(lines[0]).toBe('adapter "default"');
    expect(lines[1]).toBe('  total         314');
    expect(lines[2]).toBe(`  trainable     66 (${((100 * 66) / 314).toFixed(2)}%)`);
    expect(lines[3]).toBe('  changed       0 (0.00%), measured merged');
    const header = lines.find((line) => line.includes('method'))!;
    const rows = lines.filter((line) => line.includes('test/'));
    expect(rows).toHaveLength(2);
    // Numbers right-aligned under their header's right edge; text left-aligned under its header.
    const trainableEnd = header.indexOf('trainable') + 'trainable'.length;
    for (const row of rows) expect(row.slice(trainableEnd - 2, trainableEnd)).toMatch(/\d\d/);
    expect(rows[1]!.indexOf('additive')).toBe(header.indexOf('kind'));
    expect(rows[0]!.indexOf('selective')).toBe(header.indexOf('kind'));
    expect(tuned.formatReport()).toBe(text);
    model.dispose();
  });
});

import { peft, type SelectiveAppliedMethod, tf } from '@peftjs/core';
import { createConformanceBert, describeConformance } from '@peftjs/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { layerSelection } from './method';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describeConformance({
  name: 'layer-selection top 1 block + head',
  methods: () => [layerSelection()],
  invalidConfigs: [
    { method: layerSelection, config: { layers: { top: 0 } }, field: 'layers' },
    { method: layerSelection, config: { parts: 'mlp' }, field: 'parts' },
  ],
});

describeConformance({ name: 'layer-selection bottom 1, attention only', methods: () => [layerSelection({ layers: { bottom: 1 }, parts: 'attention', trainHead: false })] });

const selected = (config: Parameters<typeof layerSelection>[0]) => {
  const model = createConformanceBert();
  const method = peft(model, [layerSelection(config)]).appliedMethods()[0] as SelectiveAppliedMethod;
  const result = { paths: method.selections.map((selection) => selection.path), summary: method.summary() };
  model.dispose();
  return result;
};

describe('layer-selection', () => {
  // The conformance BERT: h = 16, m = 32, 2 blocks.
  const h = 16;
  const m = 32;
  const attention = 4 * (h * h + h);
  const ffn = h * m + m + m * h + h;
  const norms = 2 * 2 * h;

  it('trains the top block in full by default, norms included', () => {
    const { paths, summary } = selected({});
    expect(paths.every((path) => path.startsWith('encoder.layers.1.'))).toBe(true);
    expect(summary.selectedEntries).toBe(attention + ffn + norms);
    expect(summary.headEntries).toBe(3 * h + 3);
  });

  it('trains only the FFN matrices (weights and biases) of the bottom block', () => {
    const { paths, summary } = selected({ layers: { bottom: 1 }, parts: 'ffn' });
    expect(paths).toEqual(['encoder.layers.0.ffn.up.weight', 'encoder.layers.0.ffn.up.bias', 'encoder.layers.0.ffn.down.weight', 'encoder.layers.0.ffn.down.bias']);
    expect(summary.selectedEntries).toBe(ffn);
  });

  it('takes explicit indices, and rejects layers the model does not have', () => {
    expect(selected({ layers: [0, 1], parts: 'attention' }).summary.selectedEntries).toBe(2 * attention);
    const model = createConformanceBert();
    expect(() => peft(model, [layerSelection({ layers: { top: 3 } })])).toThrowError(expect.objectContaining({ code: 'invalid-config', field: 'layer-selection.layers.top' }));
    expect(() => peft(model, [layerSelection({ layers: [2] })])).toThrowError(expect.objectContaining({ code: 'invalid-config', field: 'layer-selection.layers' }));
    model.dispose();
  });
});

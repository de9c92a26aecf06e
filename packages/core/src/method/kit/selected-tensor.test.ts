import { Parameter } from '../../nn/parameter';
import { tf } from '../../nn/tf';
import { beforeAll, describe, expect, it } from 'vitest';
import { SelectedTensor } from './selected-tensor';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const base = [1, 2, 3, 4, 5, 6];
const makeParameter = () => new Parameter(tf.tensor2d(base, [2, 3]), { kind: 'weight' });
const read = (tensor: tf.Tensor) => [...tensor.dataSync()];

describe('SelectedTensor', () => {
  it('zeroes the gradient outside a partial selection and keeps whole selections as they are', () => {
    const partial = new SelectedTensor({ path: 'w', parameter: makeParameter(), indices: Int32Array.from([1, 5]) });
    const gradient = tf.tensor2d([10, 20, 30, 40, 50, 60], [2, 3]);
    const masked = partial.maskGradient(gradient);
    expect(read(masked)).toEqual([0, 20, 0, 0, 0, 60]);
    const whole = new SelectedTensor({ path: 'v', parameter: makeParameter() });
    expect(whole.maskGradient(gradient)).toBe(gradient);
    // Selecting every entry is a whole selection.
    expect(new SelectedTensor({ path: 'u', parameter: makeParameter(), indices: Int32Array.from([0, 1, 2, 3, 4, 5]) }).isPartial).toBe(false);
    tf.dispose([gradient, masked]);
  });

  it('puts the base values back outside the selection after an update that moved everything', () => {
    const parameter = makeParameter();
    const selected = new SelectedTensor({ path: 'w', parameter, indices: Int32Array.from([0, 4]) });
    parameter.assign(tf.tensor2d([9, 9, 9, 9, 9, 9], [2, 3]));
    selected.restoreFrozenEntries();
    expect(read(parameter.value)).toEqual([9, 2, 3, 4, 9, 6]);
  });

  it('swaps base and trained values on disable/enable, and saves only selected entries with indices', () => {
    const parameter = makeParameter();
    const selected = new SelectedTensor({ path: 'w', parameter, indices: Int32Array.from([2, 3]) });
    parameter.assign(tf.tensor2d([1, 2, -3, -4, 5, 6], [2, 3]));
    selected.setEnabled(false);
    expect(read(parameter.value)).toEqual(base);
    const state = selected.state();
    expect(Object.keys(state).sort()).toEqual(['w.indices', 'w.values']);
    expect(read(state['w.values']!)).toEqual([-3, -4]);
    expect(read(state['w.indices']!)).toEqual([2, 3]);
    selected.setEnabled(true);
    expect(read(parameter.value)).toEqual([1, 2, -3, -4, 5, 6]);

    const other = makeParameter();
    other.assign(tf.tensor2d([0, 0, 0, 0, 0, 0], [2, 3]));
    const target = new SelectedTensor({ path: 'w', parameter: other, indices: Int32Array.from([2, 3]) });
    target.load(selected.state(), 'test');
    // The loaded entries, and this model's own base values elsewhere.
    expect(read(other.value)).toEqual([0, 0, -3, -4, 0, 0]);
    const shifted = new SelectedTensor({ path: 'w', parameter: makeParameter(), indices: Int32Array.from([1, 3]) });
    expect(() => shifted.load(selected.state(), 'test')).toThrowError(expect.objectContaining({ code: 'checkpoint-mismatch', field: 'w.indices' }));
  });

  it('restores the base values on removal', () => {
    const parameter = makeParameter();
    const selected = new SelectedTensor({ path: 'w', parameter });
    parameter.assign(tf.zeros([2, 3]));
    selected.restoreAndDispose();
    expect(read(parameter.value)).toEqual(base);
  });
});

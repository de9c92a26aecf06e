import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, values } from '../models/test-support';
import { tf } from '../nn/tf';
import { clipByGlobalNorm, globalNorm } from './gradient-clipping';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('global-norm clipping', () => {
  it('computes the global norm over all tensors', () => {
    const a = tf.tensor([3, 0]);
    const b = tf.tensor([[0, 4], [12, 0]]);
    expect(globalNorm([a, b])).toBeCloseTo(13, 5); // √(9 + 16 + 144)
    expect(globalNorm([])).toBe(0);
    a.dispose();
    b.dispose();
  });

  it('scales every gradient by maxNorm / (norm + 1e-6) when the norm is larger', () => {
    const a = tf.tensor([3, 0]);
    const b = tf.tensor([[0, 4], [12, 0]]);
    const { gradients, norm } = clipByGlobalNorm(new Map([['a', a], ['b', b]]), 6.5);
    expect(norm).toBeCloseTo(13, 5);
    const scale = 6.5 / (13 + 1e-6);
    expectClose(values(gradients.get('a')!), [3 * scale, 0], 1e-6);
    expectClose(values(gradients.get('b')!), [0, 4 * scale, 12 * scale, 0], 1e-6);
    expect(globalNorm(gradients.values())).toBeCloseTo(6.5, 4);
    for (const g of gradients.values()) g.dispose();
    a.dispose();
    b.dispose();
  });

  it('leaves gradients under the limit as they are', () => {
    const a = tf.tensor([0.3, 0.4]);
    const { gradients, norm } = clipByGlobalNorm(new Map([['a', a]]), 1);
    expect(norm).toBeCloseTo(0.5, 6);
    expect(gradients.get('a')).toBe(a);
    a.dispose();
  });

  it('rejects a non-positive limit', () => {
    expect(() => clipByGlobalNorm(new Map(), 0)).toThrow(expect.objectContaining({ field: 'maxNorm' }));
  });
});

import { tf } from '@peftjs/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { kroneckerSum } from './layer';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('kroneckerSum', () => {
  it('is Σ_i A_i ⊗ B_i, checked by hand for n = 2 with 1×2 blocks', () => {
    // A_0 = [[1, 0], [0, 2]], A_1 = [[0, 1], [-1, 0]]; B_0 = [[1, 2]], B_1 = [[3, -1]]
    const rules = tf.tensor3d([[[1, 0], [0, 2]], [[0, 1], [-1, 0]]]);
    const factors = tf.tensor3d([[[1, 2]], [[3, -1]]]);
    // A_0 ⊗ B_0 = [[1, 2, 0, 0], [0, 0, 2, 4]]; A_1 ⊗ B_1 = [[0, 0, 3, -1], [-3, 1, 0, 0]]
    expect(kroneckerSum(rules, factors).arraySync()).toEqual([
      [1, 2, 3, -1],
      [-3, 1, 2, 4],
    ]);
  });
});

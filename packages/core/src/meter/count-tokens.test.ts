import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../nn/tf';
import { countTokens } from './count-tokens';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('countTokens', () => {
  it('counts non-padding tokens with a mask, batch × sequence without', () => {
    const inputIds = tf.tensor2d([[5, 6, 7, 0], [8, 9, 0, 0]], undefined, 'int32');
    const attentionMask = tf.tensor2d([[1, 1, 1, 0], [1, 1, 0, 0]]);
    expect(countTokens({ inputIds, attentionMask })).toBe(5);
    expect(countTokens({ inputIds })).toBe(8);
    tf.dispose([inputIds, attentionMask]);
  });
});

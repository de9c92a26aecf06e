import { defaultRegistry } from '@peftjs/core';
import { describe, expect, it } from 'vitest';
import { childTuningMethod, diffPruningMethod, fishMaskMethod, ltSftMethod, magnitudeMaskMethod, mixoutMethod, randomMaskMethod, samMethod } from './index';

describe('@peftjs/sparse-mask/register', () => {
  it('registers the eight declared methods under their declared names', async () => {
    expect(defaultRegistry.has('sam')).toBe(false);
    await import('./register');
    const expected = {
      'random-mask': randomMaskMethod,
      mixout: mixoutMethod,
      'magnitude-mask': magnitudeMaskMethod,
      'diff-pruning': diffPruningMethod,
      'child-tuning': childTuningMethod,
      'fish-mask': fishMaskMethod,
      sam: samMethod,
      'lt-sft': ltSftMethod,
    };
    for (const [name, method] of Object.entries(expected)) expect(defaultRegistry.get(name)).toBe(method);
  });

  it('every method accepts modulesToSave, as the bench asks of methods that train the head', () => {
    for (const method of [randomMaskMethod, mixoutMethod, magnitudeMaskMethod, diffPruningMethod, childTuningMethod, fishMaskMethod, samMethod, ltSftMethod]) {
      expect(method.parseConfig({ modulesToSave: { roles: ['head'] } }).modulesToSave).toEqual({ roles: ['head'] });
    }
  });
});

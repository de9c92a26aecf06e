import { defaultRegistry } from '@peftjs/core';
import { describe, expect, it } from 'vitest';
import { adamix, compacter, houlsby, ia3, lst, parallelAdapter, pfeiffer, scaledParallelAdapter, sparseAdapter } from './index';

describe('@peftjs/adapters/register', () => {
  it('registers every declared method under its declared name, and (IA)3 as the reader of HF IA3 files', async () => {
    expect(defaultRegistry.has('houlsby')).toBe(false);
    await import('./register');
    const expected = { houlsby, pfeiffer, 'parallel-adapter': parallelAdapter, 'scaled-parallel-adapter': scaledParallelAdapter, adamix, compacter, ia3, lst, 'sparse-adapter': sparseAdapter };
    for (const [name, method] of Object.entries(expected)) expect(defaultRegistry.get(name)).toBe(method);
    expect(defaultRegistry.list().find((method) => method.hf?.peftType === 'IA3')).toBe(ia3);
  });
});

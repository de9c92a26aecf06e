import { defaultRegistry } from '@peftjs/core';
import { describe, expect, it } from 'vitest';
import { bitFitMethod, diffFitMethod, farMethod, layerSelectionMethod, lnTuningMethod } from './index';

describe('@peftjs/selective/register', () => {
  it('registers bitfit, ln-tuning, layer-selection, difffit and far into the default registry', async () => {
    expect(defaultRegistry.has('bitfit')).toBe(false);
    await import('./register');
    expect(defaultRegistry.get('bitfit')).toBe(bitFitMethod);
    expect(defaultRegistry.get('ln-tuning')).toBe(lnTuningMethod);
    expect(defaultRegistry.get('layer-selection')).toBe(layerSelectionMethod);
    expect(defaultRegistry.get('difffit')).toBe(diffFitMethod);
    expect(defaultRegistry.get('far')).toBe(farMethod);
  });
});

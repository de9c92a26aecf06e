import { defaultRegistry } from '@peftjs/core';
import { describe, expect, it } from 'vitest';
import { bitFitMethod, layerSelectionMethod, lnTuningMethod } from './index';

describe('@peftjs/selective/register', () => {
  it('registers bitfit, ln-tuning and layer-selection into the default registry', async () => {
    expect(defaultRegistry.has('bitfit')).toBe(false);
    await import('./register');
    expect(defaultRegistry.get('bitfit')).toBe(bitFitMethod);
    expect(defaultRegistry.get('ln-tuning')).toBe(lnTuningMethod);
    expect(defaultRegistry.get('layer-selection')).toBe(layerSelectionMethod);
  });
});

import { defaultRegistry } from '@peftjs/core';
import { describe, expect, it } from 'vitest';
import { adaloraMethod, gloraMethod, intrinsicSaidMethod, kronaMethod, kronaResMethod, loraMethod } from './index';

describe('@peftjs/lora/register', () => {
  it('registers lora, krona, krona-res, glora, intrinsic-said and adalora into the default registry', async () => {
    await import('./register');
    expect(defaultRegistry.get('lora')).toBe(loraMethod);
    expect(defaultRegistry.get('krona')).toBe(kronaMethod);
    expect(defaultRegistry.get('glora')).toBe(gloraMethod);
    expect(defaultRegistry.get('krona-res')).toBe(kronaResMethod);
    expect(defaultRegistry.get('intrinsic-said')).toBe(intrinsicSaidMethod);
    expect(defaultRegistry.get('adalora')).toBe(adaloraMethod);
  });
});

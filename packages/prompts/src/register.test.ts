import { defaultRegistry } from '@peftjs/core';
import { describe, expect, it } from 'vitest';
import { adaptivePrefixTuning, ipt, pTuning, pTuningV2, prefixTuning, promptTuning, spot } from './index';

describe('@peftjs/prompts/register', () => {
  it('registers the seven declared methods, and the HF peft types of three', async () => {
    expect(defaultRegistry.has('prompt-tuning')).toBe(false);
    await import('./register');
    expect(defaultRegistry.get('prompt-tuning')).toBe(promptTuning);
    expect(defaultRegistry.get('prefix-tuning')).toBe(prefixTuning);
    expect(defaultRegistry.get('p-tuning')).toBe(pTuning);
    expect(defaultRegistry.get('p-tuning-v2')).toBe(pTuningV2);
    expect(defaultRegistry.get('adaptive-prefix-tuning')).toBe(adaptivePrefixTuning);
    expect(defaultRegistry.get('spot')).toBe(spot);
    expect(defaultRegistry.get('ipt')).toBe(ipt);
    expect(defaultRegistry.list().flatMap((method) => (method.hf ? [method.hf.peftType] : [])).sort()).toEqual(expect.arrayContaining(['PREFIX_TUNING', 'PROMPT_TUNING', 'P_TUNING']));
  });
});

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PeftError } from '@peftjs/core';
import { describe, expect, it } from 'vitest';
import { BUNDLED_BACKBONE_NAME, bundledBackboneDirectory } from '../runner/bundled-backbone';
import { backboneFor } from './backbone-option';
import { DEFAULT_PRESET, SMOKE_PRESET } from './presets';

describe('backboneFor', () => {
  it('the default preset starts from the bundled pretrained encoder, whose files are shipped', async () => {
    const provider = await backboneFor({}, DEFAULT_PRESET);
    expect(provider.name).toBe(BUNDLED_BACKBONE_NAME);
    const config = JSON.parse(await readFile(join(bundledBackboneDirectory(), 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.model_type).toBe('bert');
    const card = JSON.parse(await readFile(join(bundledBackboneDirectory(), 'model-card.json'), 'utf8')) as { name: string; mlm: { accuracy: number; unigramAccuracy: number } };
    expect(card.name).toBe(BUNDLED_BACKBONE_NAME);
    expect(card.mlm.accuracy).toBeGreaterThan(2 * card.mlm.unigramAccuracy);
  });

  it('--scratch and the smoke preset use a random init; --scratch with --model is refused', async () => {
    expect((await backboneFor({ scratch: true }, DEFAULT_PRESET)).name).not.toBe(BUNDLED_BACKBONE_NAME);
    expect((await backboneFor({}, SMOKE_PRESET)).name).not.toBe(BUNDLED_BACKBONE_NAME);
    await expect(backboneFor({ scratch: true, model: bundledBackboneDirectory() }, DEFAULT_PRESET)).rejects.toSatisfy(
      (error: unknown) => PeftError.isInstance(error) && error.field === '--scratch',
    );
  });
});

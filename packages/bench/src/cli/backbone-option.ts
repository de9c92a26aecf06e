import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { PeftError } from '@peftjs/core';
import { hfBertBackbone, scratchBackbone, type BackboneProvider } from '../runner/backbone';
import { BUNDLED_BACKBONE_NAME, bundledBackboneDirectory } from '../runner/bundled-backbone';
import type { ComparePreset } from './presets';

const HF_DIRECTORY = 'a Hugging Face BERT directory (config.json, model.safetensors, tokenizer.json)';

/** The options of a command that choose its base model. */
export interface BackboneChoice {
  /** A Hugging Face BERT directory. */
  model?: string;
  /** Start from a random init of the preset's size instead of the bundled pretrained encoder. */
  scratch?: boolean;
}

/**
 * The base model of a run: `--model <dir>` when given; otherwise the pretrained encoder bundled
 * with the bench when the preset uses it (the default) and `--scratch` is not set; otherwise a
 * random init of the preset's size with a tokenizer trained on the task (the smoke preset).
 */
export async function backboneFor(options: BackboneChoice, preset: ComparePreset): Promise<BackboneProvider> {
  if (options.model !== undefined && options.scratch) {
    throw new PeftError('invalid-argument', 'Invalid --scratch: it starts from a random init, so it cannot be combined with --model.', { field: '--scratch', value: true, allowed: 'omitted when --model is given' });
  }
  if (options.model !== undefined) {
    await requireHfDirectory(options.model, '--model');
    return hfBertBackbone(options.model, { maxLength: preset.backbone.maxLength });
  }
  if (preset.pretrained && !options.scratch) return hfBertBackbone(bundledBackboneDirectory(), { maxLength: preset.backbone.maxLength, name: BUNDLED_BACKBONE_NAME });
  return scratchBackbone(preset.backbone);
}

async function requireHfDirectory(directory: string, field: string): Promise<void> {
  try {
    await access(directory);
  } catch {
    throw new PeftError('invalid-argument', `Invalid ${field}: ${JSON.stringify(directory)} does not exist; allowed: ${HF_DIRECTORY}.`, { field, value: directory, allowed: HF_DIRECTORY });
  }
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json']) {
    try {
      await access(join(directory, file));
    } catch {
      throw new PeftError('invalid-argument', `Invalid ${field}: ${JSON.stringify(directory)} has no ${file}; allowed: ${HF_DIRECTORY}.`, { field, value: directory, allowed: HF_DIRECTORY });
    }
  }
}
